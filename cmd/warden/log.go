package main

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/wardenhq/warden/internal/keys"
)

// secretLike matches credentials that must never reach a log line, even
// inside an error message: Warden keys, OpenAI/Anthropic-style keys and
// bearer tokens.
var secretLike = regexp.MustCompile(`wdn_[A-Za-z0-9]{36}|sk-[A-Za-z0-9_\-]{16,}|(?i:bearer\s+)[A-Za-z0-9._~+/\-]{12,}=*`)

func redactText(s string) string {
	if !strings.Contains(s, "wdn_") && !strings.Contains(s, "sk-") && !strings.Contains(strings.ToLower(s), "bearer") {
		return s
	}
	return secretLike.ReplaceAllStringFunc(s, keys.Redact)
}

// newLogger builds the process logger. Every string attribute and error
// passes through redactText as the last line of defence.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if level == "" {
		level = "info"
	}
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			a.Value = slog.StringValue(redactText(a.Value.String()))
		case slog.KindAny:
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(redactText(err.Error()))
			}
		}
		return a
	}}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
