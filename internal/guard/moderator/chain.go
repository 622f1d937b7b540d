package moderator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/guard"
)

// Chain judges with the local guard and then with external moderators.
// It is safe for concurrent use.
type Chain struct {
	Guard      *guard.Guard
	Moderators []*Instance
	// Logger receives one line per moderator failure (name, stage, error;
	// never the text or the key). Nil: slog.Default().
	Logger *slog.Logger
}

// NewChain builds a chain from configurations. Names must be unique.
func NewChain(g *guard.Guard, cfgs []Config, client *http.Client) (*Chain, error) {
	c := &Chain{Guard: g}
	seen := map[string]bool{}
	for _, cfg := range cfgs {
		if seen[cfg.Name] {
			return nil, fmt.Errorf("%w: moderator name %q used twice", ErrConfig, cfg.Name)
		}
		seen[cfg.Name] = true
		in, err := New(cfg, client)
		if err != nil {
			return nil, err
		}
		c.Moderators = append(c.Moderators, in)
	}
	return c, nil
}

// Report says how one moderator answered.
type Report struct {
	Name     string
	Err      error // nil, or wraps ErrUnavailable (no key, no text)
	Flagged  []guard.Category
	Duration time.Duration
	Skipped  bool // not called: stage not configured or the guard already blocked
}

// Outcome is a chain's judgment.
type Outcome struct {
	Result  guard.Result // the combined result, as the gateway uses a guard.Result
	Local   guard.Result // the local guard's own result
	Reports []Report     // one per moderator, in configuration order
}

// Check judges texts (all from the user) at stage under policy p.
func (c *Chain) Check(ctx context.Context, stage guard.Stage, texts []string, p *guard.Policy) Outcome {
	parts := make([]guard.Part, len(texts))
	for i, t := range texts {
		parts[i] = guard.Part{Role: "user", Text: t}
	}
	return c.CheckParts(ctx, stage, parts, p)
}

// CheckParts judges the parts of a request or answer at stage under policy p
// (nil: guard.DefaultPolicy). The local guard runs first; if it blocks, the
// moderators are not called. Otherwise every moderator configured for stage
// is called concurrently, each within its timeout, and the verdicts are
// combined: maximum score per category, flagged categories at 1, the policy
// applied to the combination. A moderator that fails blocks the request if
// it fails closed (rule "moderator.NAME.unavailable") and is ignored if it
// fails open.
func (c *Chain) CheckParts(ctx context.Context, stage guard.Stage, parts []guard.Part, p *guard.Policy) Outcome {
	local := c.Guard.Check(ctx, stage, parts, p)
	out := Outcome{Result: local, Local: local, Reports: make([]Report, len(c.Moderators))}
	type answer struct {
		i int
		v Verdict
	}
	ch := make(chan answer, len(c.Moderators))
	n := 0
	for i, m := range c.Moderators {
		out.Reports[i] = Report{Name: m.Name}
		if local.Blocked() || !m.Judges(stage) {
			out.Reports[i].Skipped = true
			continue
		}
		n++
		go func(i int, m *Instance) {
			cctx, cancel := context.WithTimeout(ctx, m.Timeout)
			defer cancel()
			start := time.Now()
			v, err := m.Moderator.Moderate(cctx, stage, parts)
			if err == nil {
				err = checkVerdict(v)
			}
			if err != nil && !errors.Is(err, ErrUnavailable) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			out.Reports[i].Duration = time.Since(start)
			out.Reports[i].Err = err
			ch <- answer{i, v}
		}(i, m)
	}
	if n == 0 {
		return out
	}
	sc := local.Scores
	var failed string
	for ; n > 0; n-- {
		a := <-ch
		r := &out.Reports[a.i]
		m := c.Moderators[a.i]
		if r.Err != nil {
			c.logger().Warn("moderator failed", "moderator", m.Name, "stage", string(stage), "fail_open", m.FailOpen, "err", r.Err)
			if !m.FailOpen && (failed == "" || m.Name < failed) {
				failed = m.Name
			}
			continue
		}
		for k := range sc {
			sc[k] = max(sc[k], a.v.Scores[k])
		}
		for _, cat := range a.v.Flagged {
			if i := cat.Index(); i >= 0 {
				sc[i] = 1
			}
		}
		r.Flagged = a.v.Flagged
	}
	rule := local.Rule
	if rule == "" {
		rule = firstFlagger(out.Reports)
	}
	res := p.Decide(stage, sc, rule)
	if failed != "" {
		res.Action = guard.Block
		res.Rule = "moderator." + failed + ".unavailable"
	}
	out.Result = res
	return out
}

// firstFlagger names the first moderator (in configuration order) that
// flagged a category, as a rule id "moderator.NAME".
func firstFlagger(rs []Report) string {
	for _, r := range rs {
		if len(r.Flagged) > 0 {
			return "moderator." + r.Name
		}
	}
	return ""
}

func (c *Chain) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

var errVerdict = errors.New("moderator: verdict out of range")

// checkVerdict rejects scores outside 0..1 and unknown categories: callers
// check what implementations return.
func checkVerdict(v Verdict) error {
	for _, s := range v.Scores {
		if !(s >= 0 && s <= 1) {
			return errVerdict
		}
	}
	for _, c := range v.Flagged {
		if c.Index() < 0 {
			return errVerdict
		}
	}
	return nil
}
