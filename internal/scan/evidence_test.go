package scan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
)

// TestAzureEvidence: the confidence of a 32-hex candidate follows what a
// person reading the line would say it is. "" means not reported at the
// default minimum (medium).
func TestAzureEvidence(t *testing.T) {
	k := fakes.New(11).Hex(32)
	ep := "https://contoso.openai.azure.com/"
	cases := []struct {
		name, path, text string
		want             scan.Confidence
	}{
		{"azure name", "a.env", "AZURE_OPENAI_KEY=" + k, scan.High},
		{"api-key header near endpoint", "a.sh", "curl " + ep + " -H \"api-key: " + k + "\"", scan.High},
		{"api_key kwarg", "a.py", "client = make(api_key='" + k + "')", scan.Medium},
		{"subscription key header", "a.js", "headers: {\"Ocp-Apim-Subscription-Key\": \"" + k + "\"}", scan.High},
		{"Key next to endpoint", "appsettings.json", "\"Endpoint\": \"" + ep + "\",\n\"Key\": \"" + k + "\"", scan.Medium},
		{"named as key elsewhere", "a.js", "api_key = \"" + k + "\"\nconst key = \"" + k + "\" // azure_openai", scan.Medium},
		{"key credential", "a.cs", "new OpenAIClient(new Uri(\"" + ep + "\"), new AzureKeyCredential(\"" + k + "\"));", scan.High},
		{".NET appSettings", "app.config", "<add key=\"AzureOpenAIKey\" value=\"" + k + "\" />", scan.High},
		{"kubernetes env", "deploy.yaml", "env:\n  - name: AZURE_OPENAI_API_KEY\n    value: \"" + k + "\"", scan.High},
		{"kubernetes env id", "deploy.yaml", "env:\n  - name: AZURE_OPENAI_REQUEST_ID\n    value: \"" + k + "\"", ""},
		{"CLI flag", "run.sh", "python chat.py --endpoint " + ep + " --api-key " + k, scan.High},
		{"If-None-Match", "a.log", "If-None-Match: \"" + k + "\" api_key", ""},
		{"system fingerprint", "a.log", "INFO azure_openai response id=chatcmpl-1 system_fingerprint=" + k, ""},
		{"secret next to endpoint", "settings.json", "{\"endpoint\": \"" + ep + "\",\n \"secret\": \"" + k + "\"}", scan.Medium},
		{"csrf token", "a.log", "api_key ok csrf_token=" + k, ""},
		{"cache key", "a.log", "INFO cache hit key=" + k + " (api_key scope)", ""},
		{"trace id near endpoint", "a.log", "POST " + ep + " 200 trace_id=" + k, ""},
		{"request id", "a.log", "azure_openai call failed request_id=" + k, ""},
		{"camel id", "a.js", "{apiKey: x, sessionId: \"" + k + "\"}", ""},
		{"md5 of the key", "a.log", "api_key_md5=" + k, ""},
		{"etag", "a.log", "etag: \"" + k + "\" for api-key", ""},
		{"path segment", "a.log", "GET /cache/" + k + " api_key=****", ""},
		{"words before", "a.log", "cache lookup for api_key=" + k, ""},
		{"lock file", "poetry.lock", "name = \"azure-openai\"\napi_key = \"" + k + "\"", ""},
		{"lock file in archive", "dist.zip!app/package-lock.json", "\"api-key\": \"" + k + "\"", ""},
		{"named as a hash elsewhere", "a.txt", "md5: " + k + "\n\napi_key " + k, ""},
		{"no name", "a.log", "api_key rotated " + k, ""},
	}
	e := newEngine(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fs []scan.Finding
			e.Scan(context.Background(), strings.NewReader(c.text+"\n"), scan.Location{Path: c.path}, func(f scan.Finding) {
				if f.Fingerprint == scan.Fingerprint(k) {
					fs = append(fs, f)
				}
			})
			var got scan.Confidence
			if len(fs) > 0 {
				got = fs[len(fs)-1].Confidence
			}
			if got != c.want {
				t.Fatalf("got %q, want %q (%+v)", got, c.want, fs)
			}
		})
	}
}

// TestMinConfidence: at Low the identifiers are reported, scored low, with
// the evidence that scored them.
func TestMinConfidence(t *testing.T) {
	e, err := scan.NewEngine(scan.Builtin(), scan.MinConfidence(scan.Low))
	if err != nil {
		t.Fatal(err)
	}
	k := fakes.New(12).Hex(32)
	var fs []scan.Finding
	e.ScanText([]byte("azure_openai call failed request_id="+k+"\n"), scan.Location{}, nil, func(f scan.Finding) { fs = append(fs, f) })
	if len(fs) != 1 || fs[0].Confidence != scan.Low || !strings.Contains(fs[0].Evidence, "name:identifier-8") {
		t.Fatalf("got %+v", fs)
	}
	if _, err := scan.ParseConfidence("certain"); err == nil {
		t.Fatal("bad confidence accepted")
	}
}

func TestEvidenceRulesErrors(t *testing.T) {
	base := "[[rule]]\nid = \"mine\"\nkeywords = [\"abc\"]\nregex = 'abc[0-9]+'\n"
	for _, extra := range []string{
		"[[rule.evidence]]\nwhere = \"name\"\nregex = 'x'\nweight = 1\n", // no score
		"[rule.score]\nhigh = 1\nmedium = 2\n",
		"[rule.score]\nhigh = 2\nmedium = 1\n[[rule.evidence]]\nwhere = \"elsewhere\"\nregex = 'x'\nweight = 1\n",
		"[rule.score]\nhigh = 2\nmedium = 1\n[[rule.evidence]]\nwhere = \"name\"\nregex = 'x'\nweight = 0\n",
		"[rule.score]\nhigh = 2\nmedium = 1\n[[rule.evidence]]\nwhere = \"crowd\"\nregex = 'x'\nweight = -1\n",
		"[rule.score]\nhigh = 2\nmedium = 1\n[[rule.evidence]]\nwhere = \"near\"\nregex = '('\nweight = 1\n",
	} {
		if _, err := scan.ParseRules(strings.NewReader(base + extra)); err == nil || !strings.Contains(err.Error(), `"mine"`) {
			t.Errorf("%q: err = %v", extra, err)
		}
	}
}
