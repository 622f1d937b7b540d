package main

import (
	"context"
	"fmt"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/store"
)

// openAuditLog opens the tamper-evident log over the store, which must
// keep one (SQLite and PostgreSQL do).
func openAuditLog(ctx context.Context, st store.Store, cfg *config.Config) (*audit.Log, error) {
	as, ok := st.(store.Audit)
	if !ok {
		return nil, fmt.Errorf("audit: the %T store keeps no audit log", st)
	}
	c := cfg.Audit
	if c.Origin == "" {
		c.Origin = audit.DefaultOrigin(cfg.Instance)
	}
	l, err := audit.Open(ctx, as, c, cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return l, nil
}

// auditJournal makes the log the gateway's journal: every event is appended
// (group-committed) before its answer leaves.
func auditJournal(l *audit.Log) gateway.Journal {
	return gateway.JournalFunc(func(ctx context.Context, e *event.Event, prompt, answer []byte) error {
		_, err := l.Append(ctx, e, &audit.Bodies{Prompt: prompt, Answer: answer})
		return err
	})
}
