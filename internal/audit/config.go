package audit

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"filippo.io/age"
)

// Config is the audit section of the server configuration.
//
//	audit:
//	  origin: warden.example/audit/gw1
//	  checkpoint_interval: 1m
//	  signing_key_file: /etc/warden/audit.key   # default DIR/audit.key
//	  retention: {bodies: hash, max_age: 720h}
//	  key_retention:  {k_01H...: {bodies: encrypted, max_age: 2160h}}
//	  team_retention: {fraud-team: {bodies: none}}
//	  recipients: [age1...]
//	  max_body_bytes: 1048576
type Config struct {
	// Origin names the log in its checkpoints and is the name of its
	// signing key. It must not contain spaces or '+'. Default
	// "warden.local/audit/<instance>" (see DefaultOrigin). A key file made
	// for another origin is refused.
	Origin string `yaml:"origin" json:"origin,omitempty"`
	// CheckpointInterval is how often a checkpoint is signed while the log
	// grows. 0 means DefaultCheckpointInterval; negative turns periodic
	// checkpoints off (they are still made on demand and at Close).
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" json:"checkpoint_interval,omitempty"`
	// SigningKeyFile holds the note signing key ("PRIVATE+KEY+..."). When
	// empty, DIR/audit.key is used, created with mode 0600 on first use.
	SigningKeyFile string `yaml:"signing_key_file" json:"signing_key_file,omitempty"`
	// Retention is the default body policy; KeyRetention (by key id) and
	// TeamRetention (by key owner) override it, key before team.
	Retention     Retention            `yaml:"retention" json:"retention"`
	KeyRetention  map[string]Retention `yaml:"key_retention" json:"key_retention,omitempty"`
	TeamRetention map[string]Retention `yaml:"team_retention" json:"team_retention,omitempty"`
	// Recipients are the investigators' age public keys ("age1..."), needed
	// by the encrypted mode. Only their private keys can read the bodies.
	Recipients []string `yaml:"recipients" json:"recipients,omitempty"`
	// MaxBodyBytes caps what is kept of each of prompt and answer; longer
	// bodies are cut (and the cut is what gets hashed). Default 1 MiB.
	MaxBodyBytes int `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`
}

// Retention is the policy for bodies.
type Retention struct {
	Bodies BodyMode `yaml:"bodies" json:"bodies,omitempty"` // default hash
	// MaxAge is how long a retained body (encrypted or plaintext) is kept,
	// counted from the event time; 0 keeps it until pruned by hand. Hashes
	// and metadata are kept for ever.
	MaxAge time.Duration `yaml:"max_age" json:"max_age,omitempty"`
}

// Defaults.
const (
	DefaultCheckpointInterval = time.Minute
	DefaultMaxBodyBytes       = 1 << 20
)

// DefaultOrigin is the origin used when the configuration names none.
func DefaultOrigin(instance string) string {
	if instance == "" {
		instance = "default"
	}
	return "warden.local/audit/" + instance
}

// Validate checks c and fills in defaults for zero fields. It returns the
// parsed recipients.
func (c *Config) Validate() ([]age.Recipient, error) {
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 {
		return nil, errors.New("audit: max_body_bytes must not be negative")
	}
	if c.Origin != "" {
		if err := checkOrigin(c.Origin); err != nil {
			return nil, err
		}
	}
	var recips []age.Recipient
	if len(c.Recipients) > 0 {
		r, err := age.ParseRecipients(strings.NewReader(strings.Join(c.Recipients, "\n")))
		if err != nil {
			return nil, fmt.Errorf("audit: recipients: %w", err)
		}
		recips = r
	}
	check := func(where string, r *Retention) error {
		if r.Bodies == "" {
			r.Bodies = BodyHash
		}
		if !r.Bodies.Valid() {
			return fmt.Errorf("audit: %s: unknown bodies mode %q (want none, hash, encrypted or plaintext)", where, r.Bodies)
		}
		if r.MaxAge < 0 {
			return fmt.Errorf("audit: %s: max_age must not be negative", where)
		}
		if r.Bodies == BodyEncrypted && len(recips) == 0 {
			return fmt.Errorf("audit: %s: bodies: encrypted needs recipients", where)
		}
		return nil
	}
	if err := check("retention", &c.Retention); err != nil {
		return nil, err
	}
	// Defaults go into copies: the caller's maps stay as they were.
	c.KeyRetention, c.TeamRetention = maps.Clone(c.KeyRetention), maps.Clone(c.TeamRetention)
	for _, m := range []struct {
		name string
		m    map[string]Retention
	}{{"key_retention", c.KeyRetention}, {"team_retention", c.TeamRetention}} {
		for k, r := range m.m {
			if err := check(m.name+"."+k, &r); err != nil {
				return nil, err
			}
			m.m[k] = r
		}
	}
	return recips, nil
}

// retentionFor returns the policy for a key: by key id, else by team, else
// the default. c must have been validated.
func (c *Config) retentionFor(keyID, team string) Retention {
	if r, ok := c.KeyRetention[keyID]; ok && keyID != "" {
		return r
	}
	if r, ok := c.TeamRetention[team]; ok && team != "" {
		return r
	}
	return c.Retention
}

// checkOrigin enforces the note key-name rules, since the origin names the key.
func checkOrigin(s string) error {
	if s == "" || len(s) > 256 || strings.ContainsAny(s, " \t\n\r+") {
		return fmt.Errorf("audit: origin %q must be 1-256 characters without spaces or '+'", s)
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			return fmt.Errorf("audit: origin %q contains a control character", s)
		}
	}
	return nil
}
