package audit

import (
	"context"
	"log/slog"

	"github.com/wardenhq/warden/internal/event"
)

// Sink appends every event it handles to Log, with the bodies the gateway
// put in the context (WithBodies). Register it as a synchronous sink
// (bus.Subscribe with event.Sync): Handle returns only once the entry is durable, so the
// answer leaves after its audit record.
//
// A Sink cannot fail the request. A gateway that must refuse to answer
// unaudited requests calls Log.Append itself and answers 503 on error.
type Sink struct {
	Log *Log
	// OnError is called when an append fails; nil logs the failure with
	// slog (without bodies, which may hold secrets).
	OnError func(ctx context.Context, e *event.Event, err error)
}

// Handle implements event.Sink.
//
// The request's cancellation does not reach the append: a client that hung
// up is exactly the one whose request must still be on record. The commit
// itself is bounded by the log's own timeout.
func (s *Sink) Handle(ctx context.Context, e *event.Event) {
	if _, err := s.Log.Append(context.WithoutCancel(ctx), e, BodiesFrom(ctx)); err != nil {
		if s.OnError != nil {
			s.OnError(ctx, e, err)
			return
		}
		slog.ErrorContext(ctx, "audit: event not recorded", "request_id", e.ID, "key_id", e.KeyID, "err", err)
	}
}

var _ event.Sink = (*Sink)(nil)
