package audit

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	src := `
origin: warden.example/audit/gw1
checkpoint_interval: 30s
signing_key_file: /etc/warden/audit.key
retention: {bodies: hash, max_age: 720h}
key_retention:
  k_01: {bodies: encrypted, max_age: 2160h}
team_retention:
  research: {bodies: none}
recipients: [` + id.Recipient().String() + `]
max_body_bytes: 4096
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	recips, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if c.CheckpointInterval != 30*time.Second || len(recips) != 1 || c.KeyRetention["k_01"].MaxAge != 2160*time.Hour {
		t.Fatalf("decoded %+v", c)
	}
	for _, tt := range []struct {
		key, team string
		want      BodyMode
	}{
		{"k_01", "research", BodyEncrypted}, // key before team
		{"k_02", "research", BodyNone},
		{"k_02", "other", BodyHash},
	} {
		if got := c.retentionFor(tt.key, tt.team).Bodies; got != tt.want {
			t.Errorf("retentionFor(%s, %s) = %s, want %s", tt.key, tt.team, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"defaults", Config{}, ""},
		{"bad mode", Config{Retention: Retention{Bodies: "all"}}, "unknown bodies mode"},
		{"encrypted without recipients", Config{KeyRetention: map[string]Retention{"k": {Bodies: BodyEncrypted}}}, "needs recipients"},
		{"bad recipient", Config{Recipients: []string{"age1nope"}}, "recipients"},
		{"origin with space", Config{Origin: "my log"}, "origin"},
		{"origin with plus", Config{Origin: "a+b"}, "origin"},
		{"negative age", Config{Retention: Retention{MaxAge: -time.Hour}}, "max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.c.Retention.Bodies != BodyHash || tt.c.CheckpointInterval != DefaultCheckpointInterval {
					t.Errorf("defaults not filled: %+v", tt.c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
