// Package fakes makes fake secrets that match Warden's built-in scanner
// rules, and look-alikes that must not, for the labelled test corpus and the
// throughput benchmark.
//
// Nothing here is a real credential: every value is drawn at run time from a
// seeded generator, so no realistic key is ever committed (GitHub push
// protection would rightly flag one). Values have the right shape and, where
// the format has one, the right checksum, which is all a scanner can see.
package fakes

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
)

// Sample is a piece of text holding one secret.
type Sample struct {
	RuleID string
	Text   string // a few lines of text with the secret in context
	Secret string // the raw value whose SHA-256 is the finding's fingerprint
}

// Gen makes fakes from a seeded generator, so a corpus is reproducible.
type Gen struct {
	r *rand.ChaCha8
}

// New returns a generator seeded with seed.
func New(seed uint64) *Gen {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &Gen{r: rand.NewChaCha8(s)}
}

const (
	alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	hexLow  = "0123456789abcdef"
	urlSafe = alnum + "_-"
	b64     = alnum + "+/"
	upper32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	digits  = "0123456789"
	upperD  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// From returns n characters drawn uniformly from alphabet. Exported for
// tests that build their own look-alikes.
func (g *Gen) From(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.Uint64()%uint64(len(alphabet))]
	}
	return string(b)
}

// Hex returns n lowercase hex digits.
func (g *Gen) Hex(n int) string { return g.From(hexLow, n) }

// WardenKey returns a well-formed Warden key.
func (g *Gen) WardenKey() string {
	s, err := keys.Generate(g.r)
	if err != nil {
		panic(err) // ChaCha8 never fails
	}
	return s.Reveal()
}

// GitHubToken returns a classic GitHub token with a valid checksum (the
// scanner's own, as WardenKey uses the key package's generator).
func (g *Gen) GitHubToken(prefix string) string {
	random := g.From(alnum, 30)
	return prefix + random + scan.GitHubChecksum(random)
}

// AzureAnnotatedKey returns an 84-character key in Azure's annotated layout
// with the Cognitive Services provider signature.
func (g *Gen) AzureAnnotatedKey() string {
	return g.From(alnum, 52) + "JQQJ99" + "B" + "F" + g.From(alnum, 12) + "AAAA" + "ACOG" + g.From(alnum, 4)
}

// Positives returns one sample per way each built-in rule fires: every rule
// at least once, some in several contexts.
func (g *Gen) Positives() []Sample {
	var out []Sample
	add := func(rule, secret, format string, args ...any) {
		out = append(out, Sample{RuleID: rule, Secret: secret, Text: fmt.Sprintf(format, args...)})
	}
	wk := g.WardenKey()
	add("warden-key", wk, "WARDEN_API_KEY=%s\n", wk)
	wk = g.WardenKey()
	add("warden-key", wk, "const client = new Warden({ apiKey: \"%s\" });\n", wk)

	az := g.Hex(32)
	add("azure-openai-key", az, "AZURE_OPENAI_ENDPOINT=https://contoso-%s.openai.azure.com/\nAZURE_OPENAI_API_KEY=%s\n", g.From("abcdefghijklmnopqrstuvwxyz", 6), az)
	az = g.Hex(32)
	add("azure-openai-key", az, "curl https://fabrikam.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01 \\\n  -H \"api-key: %s\" -d @body.json\n", az)
	az = strings.ToUpper(g.Hex(32))
	add("azure-openai-key", az, "client = AzureOpenAI(\n    api_key='%s',\n    api_version=\"2024-02-01\",\n    azure_endpoint=ENDPOINT)\n", az)
	ak := g.AzureAnnotatedKey()
	add("azure-ai-key", ak, "speech_key = \"%s\"\n", ak)

	p := "sk-proj-" + g.From(urlSafe, 74) + "T3BlbkFJ" + g.From(urlSafe, 74)
	add("openai-api-key", p, "OPENAI_API_KEY=%s\n", p)
	p = "sk-" + g.From(alnum, 20) + "T3BlbkFJ" + g.From(alnum, 20)
	add("openai-api-key", p, "openai.api_key = \"%s\"\n", p)
	p = "sk-svcacct-" + g.From(urlSafe, 60) + "T3BlbkFJ" + g.From(urlSafe, 60)
	add("openai-api-key", p, "key: %s\n", p)
	p = "sk-admin-" + g.From(urlSafe, 58) + "T3BlbkFJ" + g.From(urlSafe, 58)
	add("openai-api-key", p, "export OPENAI_ADMIN_KEY='%s'\n", p)

	a := "sk-ant-api03-" + g.From(urlSafe, 93) + "AA"
	add("anthropic-api-key", a, "ANTHROPIC_API_KEY=%s\n", a)
	a = "sk-ant-admin01-" + g.From(urlSafe, 93) + "AA"
	add("anthropic-api-key", a, "{\"admin_key\": \"%s\"}\n", a)

	id, sec := "AKIA"+g.From(upper32, 16), g.From(b64, 40)
	add("aws-access-key", sec, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = us-east-1\n", id, sec)
	id, sec = "ASIA"+g.From(upper32, 16), g.From(b64, 40)
	add("aws-access-key", sec, "const creds = { secretAccessKey: \"%s\", accessKeyId: \"%s\" };\n", sec, id)

	k := "AIza" + g.From(urlSafe, 35)
	add("google-api-key", k, "GEMINI_API_KEY=%s\n", k)
	k = "hf_" + g.From(letters, 34)
	add("huggingface-token", k, "login(token=\"%s\")\n", k)
	for _, pre := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"} {
		k = g.GitHubToken(pre)
		add("github-token", k, "GITHUB_TOKEN=%s\n", k)
	}
	k = "github_pat_" + g.From(alnum, 22) + "_" + g.From(alnum, 59)
	add("github-fine-grained-token", k, "token: %s\n", k)
	k = "xoxb-" + g.From(digits, 12) + "-" + g.From(digits, 13) + "-" + g.From(alnum, 24)
	add("slack-token", k, "SLACK_BOT_TOKEN=%s\n", k)
	k = "xoxp-" + g.From(digits, 12) + "-" + g.From(digits, 12) + "-" + g.From(digits, 13) + "-" + g.Hex(32)
	add("slack-token", k, "slack_user_token: %s\n", k)
	k = "xapp-1-" + g.From(upperD, 11) + "-" + g.From(digits, 13) + "-" + g.Hex(64)
	add("slack-token", k, "SLACK_APP_TOKEN=%s\n", k)
	k = "https://hooks.slack.com/services/T" + g.From(upperD, 10) + "/B" + g.From(upperD, 10) + "/" + g.From(alnum, 24)
	add("slack-webhook", k, "webhook_url = \"%s\"\n", k)
	k = "sk_live_" + g.From(alnum, 24)
	add("stripe-secret-key", k, "STRIPE_SECRET_KEY=%s\n", k)
	k = "rk_live_" + g.From(alnum, 40)
	add("stripe-secret-key", k, "stripe.api_key = \"%s\"\n", k)
	return out
}

// Negatives returns text that looks like secrets to a careless scanner and
// must yield no finding: lock-file hashes, commit ids, UUIDs, request ids,
// data URIs, placeholders and tokens with a wrong checksum.
func (g *Gen) Negatives() []string {
	badWarden := g.WardenKey()
	badWarden = badWarden[:len(badWarden)-1] + flip(badWarden[len(badWarden)-1])
	badGitHub := g.GitHubToken("ghp_")
	badGitHub = badGitHub[:len(badGitHub)-1] + flip(badGitHub[len(badGitHub)-1])
	dataURI := "data:image/png;base64," + g.From(b64, 300) + "xAKIA" + g.From(upper32, 16) + g.From(b64, 40) + "9AIza" + g.From(urlSafe, 35) + g.From(b64, 200) + "=="
	return []string{
		// Lock files: hashes next to package names that contain "api-key".
		fmt.Sprintf("\"node_modules/api-key-auth\": {\n  \"version\": \"1.2.3\",\n  \"resolved\": \"https://registry.npmjs.org/api-key-auth/-/api-key-auth-1.2.3.tgz\",\n  \"integrity\": \"sha512-%s==\"\n},\n", g.From(b64, 86)),
		fmt.Sprintf("api-key-auth@^1.2.3:\n  version \"1.2.3\"\n  resolved \"https://registry.yarnpkg.com/api-key-auth/-/api-key-auth-1.2.3.tgz#%s\"\n", g.Hex(40)),
		fmt.Sprintf("[[package]]\nname = \"azure_openai\"\nversion = \"0.4.1\"\nchecksum = \"%s\"\n", g.Hex(64)),
		fmt.Sprintf("github.com/azure/azure-openai-go v0.1.0 h1:%s=\n", g.From(b64, 43)),
		// Commit ids and hashes.
		fmt.Sprintf("commit %s\nAuthor: Dev <dev@example.com>\n    rotate api_key handling\n", g.Hex(40)),
		fmt.Sprintf("AZURE_OPENAI_API_KEY_SHA256=%s\n", g.Hex(64)),
		fmt.Sprintf("api_key_md5sum: %s\n", g.Hex(32)),
		// UUIDs and request ids near api-key names.
		fmt.Sprintf("api-key-id: %s-%s-%s-%s-%s\n", g.Hex(8), g.Hex(4), g.Hex(4), g.Hex(4), g.Hex(12)),
		fmt.Sprintf("HTTP/1.1 401\napim-request-id: %s-%s-%s-%s-%s\nx-request-id: req_%s\n{\"error\":\"invalid api-key\"}\n", g.Hex(8), g.Hex(4), g.Hex(4), g.Hex(4), g.Hex(12), g.Hex(32)),
		fmt.Sprintf("azure_openai call failed request_id=%s\n", g.Hex(32)),
		fmt.Sprintf("{\"api_key_uuid\": \"%s\"}\n", g.Hex(32)),
		// A bare 32-hex value with no Azure or api-key context.
		fmt.Sprintf("etag = %s\nvalue = %s\n", g.Hex(32), g.Hex(32)),
		// Data URIs: base64 that happens to contain key prefixes.
		"<img src=\"" + dataURI + "\">\n",
		// Placeholders.
		"OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		"OPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXT3BlbkFJXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n",
		"api_key = \"YOUR_API_KEY\"\nAZURE_OPENAI_API_KEY=<your-key-here>\n",
		"api-key: 00000000000000000000000000000000\n",
		"AZURE_OPENAI_API_KEY=0123456789abcdef0123456789abcdef\n",
		"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
		"ANTHROPIC_API_KEY=sk-ant-api03-" + strings.Repeat("x", 93) + "AA\n",
		"GITHUB_TOKEN=ghp_" + strings.Repeat("0", 36) + "\n",
		"STRIPE_KEY=sk_live_" + strings.Repeat("x", 24) + "\n",
		// Wrong checksums.
		"WARDEN_API_KEY=" + badWarden + "\n",
		"GITHUB_TOKEN=" + badGitHub + "\n",
		// An AWS key id with no secret near it.
		"# the key AKIA" + g.From(upper32, 16) + " was rotated\n",
		// Suppressed inline.
		"WARDEN_API_KEY=" + g.WardenKey() + " # warden:allow test fixture\n",
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
