package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/wardenhq/warden/internal/redact"
)

// redactText masks every credential package redact knows (Warden, admin,
// OpenAI, Anthropic, Azure, AWS, GitHub and other keys, bearer tokens and
// JWTs) in a log value: the last line of defence, also inside errors.
func redactText(s string) string { return redact.String(s) }

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
