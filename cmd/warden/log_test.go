package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
)

func TestLoggerRedactsSecrets(t *testing.T) {
	sec, _ := keys.Generate(nil)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmEvYiJ9.c2lnbmF0dXJl"
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		log, err := newLogger(&b, format, "debug")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("request", "key", sec, "raw", sec.Reveal(), "err", errors.New("upstream said: bad token "+jwt+" and sk-proj-abcdefghijklmnopqrstuvwx"))
		out := b.String()
		for _, s := range []string{sec.Reveal(), sec.Reveal()[4:20], jwt, "sk-proj-abcdefghijklmnopqrstuvwx"} {
			if strings.Contains(out, s) {
				t.Errorf("%s log leaks %q:\n%s", format, s, out)
			}
		}
	}
	if _, err := newLogger(&bytes.Buffer{}, "xml", ""); err == nil {
		t.Error("unknown format accepted")
	}
}
