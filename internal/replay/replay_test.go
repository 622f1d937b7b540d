package replay

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
)

func TestReadKeepsLineNumbersAndMalformedLines(t *testing.T) {
	in := `{"ts":"2026-03-02T10:00:00Z","client_ip":"192.0.2.1","method":"POST","path":"/v1/chat/completions","headers":{},"body":{"model":"m1"}}
not json
{"ts":"2026-03-02T10:00:01Z","client_ip":"192.0.2.1","method":"POST","path":"/openai/deployments/dep-a/chat/completions?api-version=1","headers":{},"body":{}}
`
	items, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[0].Line != 1 || items[1].Err == nil || items[2].Line != 3 || items[2].Err != nil {
		t.Fatalf("items: %+v", items)
	}
	got := Models([]*record.Record{items[0].Rec, items[2].Rec, items[0].Rec})
	if strings.Join(got, ",") != "m1,dep-a" {
		t.Errorf("Models = %v, want m1,dep-a (deployment from the path, model from the body, once each)", got)
	}
}

func TestVerdictsListsWhatWasNotAllowed(t *testing.T) {
	e := &event.Event{Guard: []event.Verdict{
		{Stage: "prompt", Action: "allow"},
		{Stage: "prompt", Action: "block", Category: "jailbreak"},
		{Stage: "answer", Action: "flag"},
	}}
	if got := strings.Join(Verdicts(e), " "); got != "prompt:block:jailbreak answer:flag" {
		t.Errorf("Verdicts = %q", got)
	}
}

func TestWithCredentialReplacesOrAdds(t *testing.T) {
	tests := []struct {
		name string
		in   record.Headers
		want string
	}{
		{"bearer", record.Headers{{Name: "Authorization", Value: "Bearer [credential]"}}, "Authorization=Bearer s3cret"},
		{"api-key", record.Headers{{Name: "api-key", Value: "[credential]"}}, "api-key=s3cret"},
		{"none", record.Headers{{Name: "User-Agent", Value: "x"}}, "User-Agent=x api-key=s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			for i, h := range withCredential(tt.in, "s3cret") {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(h.Name + "=" + h.Value)
			}
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

func TestSecretIsStablePerSaltAndID(t *testing.T) {
	a, err := Secret([]byte("salt"), "k1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Secret([]byte("salt"), "k1")
	c, _ := Secret([]byte("salt"), "k2")
	d, _ := Secret([]byte("other"), "k1")
	if a.Reveal() != b.Reveal() || a.Reveal() == c.Reveal() || a.Reveal() == d.Reveal() {
		t.Fatal("secrets must depend on exactly salt and id")
	}
	if _, err := Secret(nil, "k1"); err == nil {
		t.Fatal("no salt must be an error")
	}
}
