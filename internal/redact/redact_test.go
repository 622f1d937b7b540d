package redact

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
)

func TestString(t *testing.T) {
	wdn, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "Tell me a story about a dragon.", "Tell me a story about a dragon."},
		{"warden", "my key is " + wdn.Reveal() + ", use it", "my key is [REDACTED:warden], use it"},
		{"openai", "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123", "OPENAI_API_KEY=[REDACTED:openai]"},
		{"openai legacy", "key sk-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv.", "key [REDACTED:openai]."},
		{"anthropic", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "[REDACTED:anthropic]"},
		{"azure header", `"api-key": "0123456789abcdef0123456789ABCDEF"`, `"api-key": "[REDACTED:azure]"`},
		{"azure env", "AZURE_OPENAI_KEY=0123456789abcdef0123456789abcdef", "AZURE_OPENAI_KEY=[REDACTED:azure]"},
		{"hex alone is kept", "commit 0123456789abcdef0123456789abcdef", "commit 0123456789abcdef0123456789abcdef"},
		{"bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "Authorization: Bearer [REDACTED:bearer]"},
		{"aws", "AKIAIOSFODNN7EXAMPLE and aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "[REDACTED:aws-access-key] and aws_secret_access_key = [REDACTED:aws-secret]"},
		{"google", "AIzaSyA1234567890abcdefghijklmnopqrstuv", "[REDACTED:google-api-key]"},
		{"github", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", "[REDACTED:github-token]"},
		{"private key", "x -----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- y", "x [REDACTED:private-key] y"},
		{"two", "a " + wdn.Reveal() + " b " + wdn.Reveal(), "a [REDACTED:warden] b [REDACTED:warden]"},
		{"short sk is kept", "task-list sk-short", "task-list sk-short"},
		{"admin token", "token wadm_abcdefghijklmnopqrstuvwxyz012345", "token [REDACTED:warden-admin]"},
		{"jwt alone", "id_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmEvYiJ9.c2lnbmF0dXJl end", "id_token=[REDACTED:jwt] end"},
		{"warden token", "got wdt_eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ3YXJkZW4ifQ.c2ln", "got [REDACTED:jwt]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) =\n %q, want\n %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBytesUnchangedIsSameSlice(t *testing.T) {
	in := []byte("nothing secret here, just an api key discussion")
	if out := Bytes(in); &out[0] != &in[0] {
		t.Error("Bytes copied text it did not change")
	}
}

func BenchmarkBytesClean(b *testing.B) {
	text := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 100)
	b.ReportAllocs()
	for b.Loop() {
		Bytes(text)
	}
}

func FuzzBytes(f *testing.F) {
	for _, s := range []string{"", "wdn_", "sk-proj-abcdefghijklmnopqrstuvwxyz", "api-key: 0123456789abcdef0123456789abcdef", "Bearer abcdefghijklmnopqrstu", "-----BEGIN PRIVATE KEY-----", "İİİwdn_"} {
		f.Add(s)
	}
	wdn, _ := keys.Generate(nil)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 { // long inputs only slow the fuzzer's minimization down
			t.Skip()
		}
		out := Bytes([]byte(s))
		if again := Bytes(bytes.Clone(out)); !bytes.Equal(again, out) {
			t.Errorf("masking is not idempotent: %q -> %q -> %q", s, out, again)
		}
		// The keyword prefilter only saves work: running every rule on
		// every text gives the same result.
		all := []byte(s)
		for i := range Rules {
			all, _ = mask(&Rules[i], all)
		}
		if !bytes.Equal(all, out) {
			t.Errorf("prefilter changed the result for %q: %q, without it %q", s, out, all)
		}
		// A real key inside any text never survives.
		in := s + " " + wdn.Reveal() + " " + s
		if strings.Contains(string(Bytes([]byte(in))), wdn.Reveal()) {
			t.Errorf("key survived in %q", in)
		}
	})
}

func TestQuery(t *testing.T) {
	wdn, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, want string }{
		{"none", "", ""},
		{"plain", "api-version=2024-10-21", "api-version=2024-10-21"},
		{"azure api-key", "api-version=2024-10-21&api-key=0123456789abcdef0123456789abcdef", "api-version=2024-10-21&api-key=[REDACTED]"},
		{"any spelling", "API_KEY=x&Subscription-Key=y&sig=z&access_token=t", "API_KEY=[REDACTED]&Subscription-Key=[REDACTED]&sig=[REDACTED]&access_token=[REDACTED]"},
		{"encoded name", "api%2Dkey=abc", "api%2Dkey=[REDACTED]"},
		{"key in another value", "q=" + wdn.Reveal() + "&x=1", "q=%5BREDACTED%3Awarden%5D&x=1"},
		{"encoding kept", "a=b%20c&d", "a=b%20c&d"},
		{"bad escape kept", "a=%zz", "a=%zz"},
	}
	for _, tt := range tests {
		if got := Query(tt.in); got != tt.want {
			t.Errorf("%s: Query(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	if got := RequestURI("/openai/deployments/d/chat/completions?api-key=s3cret&api-version=1"); got != "/openai/deployments/d/chat/completions?api-key=[REDACTED]&api-version=1" {
		t.Errorf("RequestURI: %s", got)
	}
}
