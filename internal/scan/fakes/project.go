package fakes

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Project is a realistic project tree: application code, configuration,
// docs, logs, lock files, test fixtures, a vendored minified bundle and
// notebooks. Keys are planted where people leak them; everywhere else
// hexadecimal hashes and identifiers sit next to words like api-key and
// azure_openai, as they do in real trees.
type Project struct {
	Files   map[string]string // slash-separated path -> content
	Planted []Planted         // every secret planted, and where
}

// Planted is a secret planted in a Project file.
type Planted struct {
	Sample
	Path string
}

// NewProject generates a project tree. Every sample of Positives is planted
// once, plus Azure keys in the ways Azure keys leak (low-entropy ones and the
// 84-character format included); the negatives of Negatives are spread over
// the source files.
func (g *Gen) NewProject() *Project {
	p := &Project{Files: map[string]string{}}
	put := func(path, text string, planted ...Sample) {
		p.Files[path] += text
		for _, s := range planted {
			p.Planted = append(p.Planted, Planted{Sample: s, Path: path})
		}
	}
	az := func() string { return g.Hex(32) }
	endpoint := func() string {
		return "https://" + g.From("abcdefghijklmnopqrstuvwxyz", 7) + ".openai.azure.com/"
	}
	sample := func(secret, text string) Sample {
		return Sample{RuleID: "azure-openai-key", Secret: secret, Text: text}
	}

	// Every sample of every rule, in the files where such lines live.
	for i, s := range g.Positives() {
		path := [...]string{"src/config.py", "deploy/.env.production", "web/src/client.ts", "scripts/setup.sh"}[i%4]
		put(path, s.Text+filler(g, 6), s)
	}

	// Azure OpenAI keys as they leak.
	k1, k2, k3 := g.LowEntropyHex32(), az(), az()
	put(".env", fmt.Sprintf("# local settings, do not commit\nAZURE_OPENAI_ENDPOINT=%s\nAZURE_OPENAI_API_KEY=%s\nAZURE_OPENAI_DEPLOYMENT=gpt-4o\n", endpoint(), k1),
		sample(k1, ""))
	put("src/App/appsettings.json", fmt.Sprintf("{\n  \"Logging\": { \"LogLevel\": { \"Default\": \"Information\" } },\n  \"AzureOpenAI\": {\n    \"Endpoint\": \"%s\",\n    \"Key\": \"%s\",\n    \"Deployment\": \"gpt-4o-mini\"\n  }\n}\n", endpoint(), k2),
		sample(k2, ""))
	put("infra/terraform.tfvars", fmt.Sprintf("location        = \"swedencentral\"\nazure_openai_key = \"%s\"\n", k3), sample(k3, ""))
	k4, k5, k6 := az(), g.LowEntropyHex32(), strings.ToUpper(az())
	put("scripts/call.ps1", fmt.Sprintf("$endpoint = \"%sopenai/deployments/gpt-4o/chat/completions?api-version=2024-06-01\"\n$headers = @{ \"api-key\" = \"%s\"; \"Content-Type\" = \"application/json\" }\nInvoke-RestMethod -Uri $endpoint -Headers $headers -Method Post -Body $body\n", endpoint(), k4),
		sample(k4, ""))
	put("k8s/configmap.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chat-api\ndata:\n  AZURE_OPENAI_ENDPOINT: %q\n  AZURE_OPENAI_KEY: %q\n", endpoint(), k5),
		sample(k5, ""))
	put("src/settings.py", fmt.Sprintf("import os\n\nos.environ[\"AZURE_OPENAI_API_KEY\"] = \"%s\"  # TODO move to key vault\n", k6), sample(k6, ""))
	k7, k8 := g.LowEntropyHex32(), az()
	put("README.md", fmt.Sprintf("# chat-api\n\nTry it:\n\n```sh\ncurl %sopenai/deployments/gpt-4o/chat/completions?api-version=2024-06-01 \\\n  -H \"Content-Type: application/json\" \\\n  -H \"api-key: %s\" \\\n  -d '{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n```\n", endpoint(), k7),
		sample(k7, ""))
	put("src/translate.js", fmt.Sprintf("const url = \"https://api.cognitive.microsofttranslator.com/translate?api-version=3.0&to=de\";\nfetch(url, { method: \"POST\", headers: { \"Ocp-Apim-Subscription-Key\": \"%s\", \"Ocp-Apim-Subscription-Region\": \"westeurope\" } });\n", k8),
		sample(k8, ""))
	ak1, ak2 := g.AzureAnnotatedKey(), g.AzureAnnotatedKey()
	put("deploy/speech.env", "AZURE_SPEECH_REGION=westeurope\nAZURE_SPEECH_KEY="+ak1+"\n", Sample{RuleID: "azure-ai-key", Secret: ak1})
	put("src/search.json", "{\"search\": {\"endpoint\": \"https://docs.search.windows.net\", \"adminKey\": \""+ak2+"\"}}\n", Sample{RuleID: "azure-ai-key", Secret: ak2})

	// A debug log that dumped request headers: the key is leaked in a log of identifiers.
	k9 := az()
	var log strings.Builder
	log.WriteString(g.appLog(40))
	fmt.Fprintf(&log, "2026-03-02T09:14:07.311Z DEBUG http: request headers={'api-key': '%s', 'x-ms-client-request-id': '%s'}\n", k9, g.uuid())
	log.WriteString(g.appLog(40))
	put("logs/debug.log", log.String(), sample(k9, ""))

	// A notebook with a key in a cell.
	k10 := az()
	put("notebooks/eval.ipynb", g.notebook(nbCell{Source: fmt.Sprintf("from openai import AzureOpenAI\nclient = AzureOpenAI(api_key=\"%s\", api_version=\"2024-06-01\", azure_endpoint=\"%s\")\n", k10, endpoint())}), sample(k10, ""))

	// Negatives: identifiers and hashes everywhere.
	neg := g.Negatives()
	put("src/config.py", strings.Join(neg[:len(neg)/2], filler(g, 6)))
	put("web/src/client.ts", strings.Join(neg[len(neg)/2:], filler(g, 6)))
	for i := range 3 {
		put(fmt.Sprintf("logs/app-%d.log", i), g.appLog(400))
	}
	put("logs/access.jsonl", g.jsonLog(300))
	put("package-lock.json", g.packageLock(60))
	put("yarn.lock", g.yarnLock(60))
	put("go.sum", g.goSum(80))
	put("Cargo.lock", g.cargoLock(40))
	put("poetry.lock", g.poetryLock(40))
	put("tests/fixtures/responses.json", g.fixtures(50))
	put("tests/test_client.py", g.pyTests(30))
	put("internal/client/client_test.go", g.goTests(30))
	put("web/vendor/app.min.js", g.minified(200))
	put("notebooks/cache-analysis.ipynb", g.notebook(g.notebookIDs(40)...))
	return p
}

// LowEntropyHex32 returns 32 random hex digits whose Shannon entropy is under
// 3.5 bits per character (about one random key in five), yet not a
// placeholder: the keys an entropy cut-off would miss.
func (g *Gen) LowEntropyHex32() string {
	for {
		k := g.Hex(32)
		if hexEntropy(k) < 3.5 {
			return k
		}
	}
}

func hexEntropy(s string) float64 {
	var c [256]int
	for i := 0; i < len(s); i++ {
		c[s[i]]++
	}
	h := 0.0
	for _, n := range c {
		if n > 0 {
			p := float64(n) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

func filler(g *Gen, n int) string {
	lines := []string{
		"def handler(event, context):\n", "    return {\"statusCode\": 200}\n", "// TODO: retry on 429\n",
		"logger.info(\"started\")\n", "if err != nil { return err }\n", "\n", "# deployment: gpt-4o, region swedencentral\n",
	}
	var b strings.Builder
	for range n * 4 {
		b.WriteString(lines[g.r.Uint64()%uint64(len(lines))])
	}
	return b.String()
}

func (g *Gen) uuid() string {
	return g.Hex(8) + "-" + g.Hex(4) + "-" + g.Hex(4) + "-" + g.Hex(4) + "-" + g.Hex(12)
}

func (g *Gen) ts(i int) string {
	return fmt.Sprintf("2026-03-02T%02d:%02d:%02d.%03dZ", 8+i/3600%12, i/60%60, i%60, g.r.Uint64()%1000)
}

// appLog is a service log full of 32-hex identifiers next to api-key and
// Azure words, each line saying what its value is.
func (g *Gen) appLog(n int) string {
	forms := []string{
		"INFO cache hit key=%s ttl=300 route=/v1/chat (api_key scope)",
		"INFO POST https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions 200 trace_id=%s",
		"WARN azure_openai call throttled request_id=%s retry_after=2",
		"INFO api-key accepted; session %s started",
		"DEBUG etag: \"%s\" for /v1/models (api_key cached)",
		"INFO uploaded blob %s via azure_openai files API",
		"INFO model.bin md5=%s verified before api_key rotation",
		"ERROR [trace %s] azure_openai request failed: 429 Too Many Requests",
		"INFO correlationId=%s apiKeyName=primary",
		"DEBUG cache lookup %s (api-key namespace)",
		"INFO x-ms-request-id: %s openai.azure.com latency_ms=812",
		"INFO api_key_hash=%s tenant=fabrikam",
		"INFO deploy commit %s rolled out api-key validation",
		"DEBUG checksum %s ok for prompt template api_key_prompt.txt",
		"INFO spanId=%s parent=%s api_key=****9f2c",
		"INFO digest sha256:%s%s pulled for azure-openai-proxy",
		"INFO apim-request-id: %s status=200 azure_openai deployment=gpt-4o",
	}
	var b strings.Builder
	for i := range n {
		f := forms[g.r.Uint64()%uint64(len(forms))]
		args := make([]any, strings.Count(f, "%s"))
		for j := range args {
			args[j] = g.Hex(32)
		}
		if strings.HasPrefix(f, "INFO apim-request-id") {
			args[0] = g.uuid()
		}
		fmt.Fprintf(&b, "%s "+f+"\n", append([]any{g.ts(i)}, args...)...)
	}
	return b.String()
}

func (g *Gen) jsonLog(n int) string {
	return rows("", n, func(i int) string {
		return fmt.Sprintf(`{"ts":%q,"level":"info","msg":"azure_openai call","azure_endpoint":"https://contoso.openai.azure.com","request_id":%q,"cache_key":%q,"traceId":%q,"api_key_id":"key_%d","status":200}`+"\n",
			g.ts(i), g.Hex(32), g.Hex(32), g.Hex(32), i%7)
	}, "")
}

var pkgNames = []string{"api-key-auth", "azure-openai", "@azure/openai", "apikey-middleware", "express-api-key", "openai", "lodash", "react", "azure-openai-proxy", "api_key_store"}

func (g *Gen) packageLock(n int) string {
	return rows("{\n  \"name\": \"chat-web\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n", n, func(i int) string {
		name := pkgNames[i%len(pkgNames)]
		return fmt.Sprintf("    \"node_modules/%s-%d\": {\n      \"version\": \"1.%d.0\",\n      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-1.%d.0.tgz\",\n      \"integrity\": \"sha512-%s==\",\n      \"_shasum\": \"%s\",\n      \"_md5\": \"%s\"\n    },\n",
			name, i, i, name, name, i, g.From(b64, 86), g.Hex(40), g.Hex(32))
	}, "    \"\": {}\n  }\n}\n")
}

func (g *Gen) yarnLock(n int) string {
	return rows("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n", n, func(i int) string {
		name := pkgNames[i%len(pkgNames)]
		return fmt.Sprintf("%s@^1.%d.0:\n  version \"1.%d.0\"\n  resolved \"https://registry.yarnpkg.com/%s/-/%s-1.%d.0.tgz#%s\"\n  integrity md5-%s\n\n",
			name, i, i, name, name, i, g.Hex(40), g.Hex(32))
	}, "")
}

func (g *Gen) goSum(n int) string {
	mods := []string{"github.com/azure/azure-openai-go", "github.com/acme/apikey", "golang.org/x/net", "github.com/sashabaranov/go-openai"}
	return rows("", n, func(i int) string {
		m := mods[i%len(mods)]
		return fmt.Sprintf("%s v0.%d.0 h1:%s=\n%s v0.%d.0/go.mod h1:%s=\n", m, i, g.From(b64, 43), m, i, g.From(b64, 43))
	}, "")
}

func (g *Gen) cargoLock(n int) string {
	return rows("# This file is automatically @generated by Cargo.\nversion = 3\n\n", n, func(i int) string {
		return fmt.Sprintf("[[package]]\nname = \"azure_openai_%d\"\nversion = \"0.%d.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"%s\"\n# api_key feature md5 %s\n\n", i, i, g.Hex(64), g.Hex(32))
	}, "")
}

func (g *Gen) poetryLock(n int) string {
	return rows("", n, func(i int) string {
		return fmt.Sprintf("[[package]]\nname = \"azure-openai-helper-%d\"\nversion = \"1.0.%d\"\ndescription = \"api_key helpers\"\nfiles = [\n    {file = \"x-%d.whl\", hash = \"md5:%s\"},\n    {file = \"x-%d.tar.gz\", hash = \"sha256:%s\"},\n]\n\n", i, i, i, g.Hex(32), i, g.Hex(64))
	}, "")
}

func (g *Gen) fixtures(n int) string {
	return rows("[\n", n, func(int) string {
		return fmt.Sprintf("  {\"id\": %q, \"request_id\": %q, \"etag\": %q, \"api_key_id\": %q, \"headers\": {\"x-request-id\": %q, \"apim-request-id\": %q}, \"body_md5\": %q},\n",
			g.Hex(32), g.Hex(32), g.Hex(32), g.Hex(32), g.Hex(32), g.uuid(), g.Hex(32))
	}, "  {}\n]\n")
}

func (g *Gen) pyTests(n int) string {
	return rows("import hashlib\nfrom client import AzureOpenAIClient\n\n", n, func(i int) string {
		return fmt.Sprintf("def test_cache_%d(client):\n    resp = client.chat(api_key=FAKE_API_KEY)\n    assert resp.headers[\"x-request-id\"] == \"%s\"\n    assert cache_key(resp) == \"%s\"\n    assert hashlib.md5(b\"api-key\").hexdigest() != \"%s\"\n\n", i, g.Hex(32), g.Hex(32), g.Hex(32))
	}, "")
}

func (g *Gen) goTests(n int) string {
	return rows("package client\n\nimport \"testing\"\n\n", n, func(i int) string {
		return fmt.Sprintf("func TestAPIKeyHash%d(t *testing.T) {\n\twantHash := \"%s\" // md5 of the api_key fixture\n\ttraceID := \"%s\"\n\tif got := hashKey(apiKey, traceID); got != wantHash {\n\t\tt.Fatalf(\"got %%s\", got)\n\t}\n}\n\n", i, g.Hex(32), g.Hex(32))
	}, "")
}

// minified is a vendored bundle: one long line with content hashes, ids
// and api-key headers.
func (g *Gen) minified(n int) string {
	var b strings.Builder
	b.WriteString("/*! chat-web v2.3.1 | (c) contoso */!function(){\"use strict\";")
	for i := range n {
		fmt.Fprintf(&b, "var a%d={cacheKey:\"%s\",etag:\"%s\",buildHash:\"%s\",sessionId:\"%s\",chunk:\"%s\"};function f%d(e){return fetch(e.endpoint,{headers:{\"api-key\":e.apiKey,\"x-request-id\":\"%s\"}})}",
			i, g.Hex(32), g.Hex(32), g.Hex(32), g.Hex(32), g.Hex(20), i, g.Hex(32))
	}
	fmt.Fprintf(&b, "n.u=function(e){return\"static/js/\"+e+\".\"+{179:\"%s\",216:\"%s\",443:\"%s\"}[e]+\".chunk.js\"};", g.Hex(32), g.Hex(32), g.Hex(32))
	b.WriteString("}();\n//# sourceMappingURL=app.min.js.map\n")
	return b.String()
}

func (g *Gen) notebookIDs(n int) []nbCell {
	src := fmt.Sprintf("import hashlib, pandas as pd\ndf = pd.read_parquet('requests.parquet')  # request_id, cache_key, api_key_id\n"+
		"df['cache_key'] = df.prompt.map(lambda p: hashlib.md5(p.encode()).hexdigest())\nprint(df[['request_id', 'cache_key']].head(%d))\n", n)
	out := []string{"   request_id                         cache_key                         api_key_id\n"}
	for i := range n {
		out = append(out, fmt.Sprintf("%d  %s  %s  key_%d\n", i, g.Hex(32), g.Hex(32), i%3))
	}
	return []nbCell{
		{Source: src, Output: strings.Join(out, "")},
		{Source: fmt.Sprintf("etag = '%s'  # azure_openai files API\nrun_id = '%s'\n", g.Hex(32), g.Hex(32))},
	}
}

type nbCell struct{ Source, Output string }

// notebook builds an nbformat 4 document of code cells.
func (g *Gen) notebook(cells ...nbCell) string {
	lines := func(s string) []string { return strings.SplitAfter(s, "\n") }
	var cs []any
	cs = append(cs, map[string]any{"cell_type": "markdown", "metadata": map[string]any{}, "source": []string{"# Evaluation"}})
	for i, c := range cells {
		outputs := []any{}
		if c.Output != "" {
			outputs = append(outputs, map[string]any{"output_type": "stream", "name": "stdout", "text": lines(c.Output)})
		}
		cs = append(cs, map[string]any{"cell_type": "code", "metadata": map[string]any{}, "execution_count": i + 1, "outputs": outputs, "source": lines(c.Source)})
	}
	b, err := json.MarshalIndent(map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": map[string]any{"kernelspec": map[string]any{"name": "python3"}}, "cells": cs}, "", " ")
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return string(b) + "\n"
}

// rows is head, then row(i) for i from 0 to n-1, then tail: the layout of
// every generated file that repeats one record.
func rows(head string, n int, row func(i int) string, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		b.WriteString(row(i))
	}
	b.WriteString(tail)
	return b.String()
}
