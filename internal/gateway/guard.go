package gateway

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/provider"
)

// The guard stage. Prompts are judged before forwarding: a block answers
// like Azure (400, error.code "content_filter", with the per-category
// content_filter_result). Whole answers are judged before they are
// released: a blocked answer keeps its shape but loses its text and ends
// with finish_reason "content_filter". Streams pass through a hold-back
// window (see relayStream). Every verdict goes into the event, so the
// detector sees streaks of jailbreaks and filtered content.

func (x *exchange) policy() *guard.Policy {
	if f := x.tab.guardPolicy; f != nil {
		if p := f(x.key); p != nil {
			return p
		}
	}
	return defaultGuardPolicy
}

var defaultGuardPolicy = guard.DefaultPolicy()

// guarded reports whether the guard looks at this request at all.
func (x *exchange) guarded() bool {
	// Canary requests are answered by the tarpit: the attacker should keep
	// talking, and everything is on the record anyway.
	return x.s.opts.Guard != nil && x.key.Kind != keys.KindCanary
}

func (x *exchange) inspectPrompt() *apiError {
	if !x.guarded() {
		return nil
	}
	parts := x.body.parts
	_, sp := x.stage(x.r.Context(), "guard prompt")
	defer sp.End()
	res := x.check(guard.StageOf(string(x.endpoint)), parts)
	x.noteVerdict(&res)
	x.promptResult = &res
	x.promptIndirect = indirectHit(parts)
	if res.Blocked() {
		status, body := guard.BlockError(&res, x.style == "azure")
		return &apiError{Status: status, Code: "content_filter", Refusal: "guard", Raw: body}
	}
	return nil
}

// check judges parts at stage: the local guard, then the external
// moderators when they are configured. A prompt's texts are judged in the
// key's memo scope: what an application sends with every request (its
// system prompt, the conversation so far) is judged once, and found again
// only for the same key (guard.WithMemoScope).
func (x *exchange) check(stage guard.Stage, parts []guard.Part) guard.Result {
	ctx := guard.WithMemoScope(x.r.Context(), x.key.ID) // answers are never remembered
	if c := x.s.opts.Moderators; c != nil {
		// The chain logs a moderator's failure itself.
		return c.CheckParts(ctx, stage, parts, x.policy()).Result
	}
	return x.s.opts.Guard.Check(ctx, stage, parts, x.policy())
}

func (x *exchange) noteVerdict(res *guard.Result) {
	x.ev.Guard = append(x.ev.Guard, res.Verdict())
	if res.Rule != "" && !contains(x.ev.Features.Phrases, res.Rule) {
		x.ev.Features.Phrases = append(x.ev.Features.Phrases, res.Rule)
	}
}

func indirectHit(parts []guard.Part) bool {
	for _, p := range parts {
		if p.Indirect() {
			return true
		}
	}
	return false
}

// inspectAnswer judges a whole 200 answer and returns the body to send:
// unchanged, annotated the Azure way for Azure-style clients, or with its
// text removed when blocked.
func (x *exchange) inspectAnswer(b []byte, a *answer) []byte {
	if !x.guarded() || (x.endpoint != provider.ChatCompletions && x.endpoint != provider.Completions && x.endpoint != provider.Responses) {
		return b
	}
	_, sp := x.stage(x.r.Context(), "guard answer")
	res := x.check(guard.StageAnswer, a.Parts())
	sp.End()
	if res.Action != guard.Allow {
		x.noteVerdict(&res)
	}
	blocked := res.Blocked()
	if !blocked && x.style != "azure" {
		return b
	}
	if !blocked {
		if out, err := x.annotateAnswer(b, &res); err == nil {
			return out
		}
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return b
	}
	if blocked {
		x.ev.FinishReason = "content_filter"
		redactAnswer(doc)
	}
	if x.style == "azure" {
		if x.promptResult != nil {
			doc["prompt_filter_results"] = guard.AzurePromptFilterResults(x.promptResult, x.promptIndirect)
		}
		cfr := guard.AzureContentFilterResults(&res, false)
		if choices, ok := doc["choices"].([]any); ok {
			for _, c := range choices {
				if m, ok := c.(map[string]any); ok {
					m["content_filter_results"] = cfr
				}
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return b
	}
	return out
}

// annotateAnswer adds the Azure-style verdicts to an answer that passed:
// the prompt's to the answer, res's to every choice.
func (x *exchange) annotateAnswer(b []byte, res *guard.Result) ([]byte, error) {
	cfr, err := json.Marshal(guard.AzureContentFilterResults(res, false))
	if err != nil {
		return nil, err
	}
	var top []jsonMember
	if x.promptResult != nil {
		pfr, err := json.Marshal(guard.AzurePromptFilterResults(x.promptResult, x.promptIndirect))
		if err != nil {
			return nil, err
		}
		top = []jsonMember{{"prompt_filter_results", pfr}}
	}
	return annotate(b, top, []jsonMember{{"content_filter_results", cfr}})
}

// redactAnswer removes the text of an answer in place, the way the APIs
// report a filtered completion.
func redactAnswer(doc map[string]any) {
	if choices, ok := doc["choices"].([]any); ok {
		for _, c := range choices {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			m["finish_reason"] = "content_filter"
			if msg, ok := m["message"].(map[string]any); ok {
				msg["content"] = ""
				delete(msg, "tool_calls")
			}
			if _, ok := m["text"]; ok {
				m["text"] = ""
			}
		}
	}
	if _, ok := doc["output"]; ok { // Responses API
		doc["output"] = []any{}
		doc["status"] = "incomplete"
		doc["incomplete_details"] = map[string]any{"reason": "content_filter"}
	}
}

// streamGuard moderates one streamed answer. Text deltas pass through the
// guard's hold-back window: an event whose text is not yet released is
// rewritten to carry only the released part (or held back entirely), and on
// a violation the stream ends at once with finish_reason "content_filter",
// so nothing the guard has not cleared reaches the client.
type streamGuard struct {
	x       *exchange
	mods    map[int]*guard.StreamModerator
	meta    map[string]any // the last chunk, for id, model and created of made-up chunks
	flagged map[*guard.StreamModerator]bool
}

func (x *exchange) newStreamGuard() *streamGuard {
	if !x.guarded() || (x.endpoint != provider.ChatCompletions && x.endpoint != provider.Completions && x.endpoint != provider.Responses) {
		return nil
	}
	return &streamGuard{x: x, mods: map[int]*guard.StreamModerator{}}
}

func (g *streamGuard) mod(i int) *guard.StreamModerator {
	m, ok := g.mods[i]
	if !ok {
		m = g.x.s.opts.Guard.NewStreamModerator(g.x.policy())
		if hb := g.x.s.cfg.Guard.StreamHoldback; hb > 0 {
			m.Holdback = hb
		}
		g.mods[i] = m
	}
	return m
}

// filter takes one SSE event and its data and returns the events to send
// now, and whether the stream is over because the guard blocked it.
func (g *streamGuard) filter(raw, data []byte) (out [][]byte, blocked bool) {
	if data == nil {
		return [][]byte{raw}, false
	}
	ctx := g.x.r.Context()
	if bytes.Equal(data, []byte("[DONE]")) {
		for i, m := range g.mods {
			var blocked bool
			if out, blocked = g.end(ctx, i, m, out); blocked {
				return out, true
			}
		}
		return append(out, raw), false
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return [][]byte{raw}, false
	}
	if g.x.endpoint == provider.Responses {
		return g.filterResponses(raw, doc)
	}
	g.meta = doc
	choices, _ := doc["choices"].([]any)
	if len(choices) == 0 {
		return [][]byte{raw}, false // usage chunk
	}
	changed, emit := false, false
	for _, c := range choices {
		ch, ok := c.(map[string]any)
		if !ok {
			continue
		}
		idx := 0
		if n, ok := ch["index"].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v >= 0 && v < 128 {
				idx = int(v)
			}
		}
		text, field, holder := choiceText(ch)
		m := g.mod(idx)
		if text != "" {
			rel, res := m.Write(ctx, text)
			if res != nil {
				return g.block(idx, res), true
			}
			holder[field] = rel
			changed = true
			if rel != "" {
				emit = true
			}
		}
		if fr, ok := ch["finish_reason"].(string); ok && fr != "" {
			var blocked bool
			if out, blocked = g.end(ctx, idx, m, out); blocked {
				return out, true
			}
			emit = true
		}
		if d, ok := ch["delta"].(map[string]any); ok {
			if _, ok := d["role"]; ok {
				emit = true
			}
			if _, ok := d["tool_calls"]; ok {
				emit = true
			}
		}
	}
	if !changed {
		return append(out, raw), false
	}
	if !emit {
		return out, false // everything in this event is held back
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return append(out, raw), false
	}
	return append(out, sseEvent("", b)), false
}

// choiceText finds the text of a streamed choice: delta.content (chat) or
// text (completions), and where to write the released part.
func choiceText(ch map[string]any) (string, string, map[string]any) {
	if d, ok := ch["delta"].(map[string]any); ok {
		s, _ := d["content"].(string)
		return s, "content", d
	}
	s, _ := ch["text"].(string)
	return s, "text", ch
}

func (g *streamGuard) filterResponses(raw []byte, doc map[string]any) ([][]byte, bool) {
	typ, _ := doc["type"].(string)
	ctx := g.x.r.Context()
	m := g.mod(0)
	switch typ {
	case "response.output_text.delta":
		s, _ := doc["delta"].(string)
		rel, res := m.Write(ctx, s)
		if res != nil {
			return g.block(0, res), true
		}
		if rel == "" {
			return nil, false
		}
		doc["delta"] = rel
		b, _ := json.Marshal(doc)
		return [][]byte{sseEvent(typ, b)}, false
	case "response.output_text.done":
		rel, res := m.Close(ctx)
		if res != nil {
			return g.block(0, res), true
		}
		g.noteFlags(m)
		var out [][]byte
		if rel != "" {
			d := map[string]any{"type": "response.output_text.delta", "item_id": doc["item_id"], "output_index": doc["output_index"],
				"content_index": doc["content_index"], "delta": rel}
			b, _ := json.Marshal(d)
			out = append(out, sseEvent("response.output_text.delta", b))
		}
		return append(out, raw), false
	}
	return [][]byte{raw}, false
}

// noteFlags records, once per moderator, a flag the stream raised without
// being blocked, so the detector sees it.
// end judges the end of choice i's text: it appends to out a chunk with
// what the moderator still held back, or returns the block instead.
func (g *streamGuard) end(ctx context.Context, i int, m *guard.StreamModerator, out [][]byte) ([][]byte, bool) {
	rel, res := m.Close(ctx)
	if res != nil {
		return g.block(i, res), true
	}
	g.noteFlags(m)
	if rel != "" {
		out = append(out, g.chunk(i, rel))
	}
	return out, false
}

func (g *streamGuard) noteFlags(m *guard.StreamModerator) {
	if g.flagged == nil {
		g.flagged = map[*guard.StreamModerator]bool{}
	}
	if g.flagged[m] {
		return
	}
	if r := m.Result(); r.Action == guard.Flag {
		g.flagged[m] = true
		g.x.noteVerdict(&r)
	}
}

// chunk builds a chat or completions chunk carrying text for choice i.
func (g *streamGuard) chunk(i int, text string) []byte {
	ch := map[string]any{"index": i, "finish_reason": nil}
	if g.x.endpoint == provider.Completions {
		ch["text"] = text
	} else {
		ch["delta"] = map[string]any{"content": text}
	}
	b, _ := json.Marshal(g.frame(ch))
	return sseEvent("", b)
}

// frame wraps choice in the id, object, created and model of the stream.
func (g *streamGuard) frame(choice map[string]any) map[string]any {
	out := map[string]any{"choices": []any{choice}}
	for _, k := range []string{"id", "object", "created", "model", "system_fingerprint"} {
		if v, ok := g.meta[k]; ok {
			out[k] = v
		}
	}
	return out
}

// block ends the stream: a final event with finish_reason "content_filter"
// (Responses: response.incomplete), then [DONE].
func (g *streamGuard) block(i int, res *guard.Result) [][]byte {
	x := g.x
	x.noteVerdict(res)
	x.ev.FinishReason = "content_filter"
	if x.endpoint == provider.Responses {
		b, _ := json.Marshal(map[string]any{"type": "response.incomplete", "response": map[string]any{
			"object": "response", "status": "incomplete", "incomplete_details": map[string]any{"reason": "content_filter"}}})
		return [][]byte{sseEvent("response.incomplete", b)}
	}
	ch := map[string]any{"index": i, "finish_reason": "content_filter"}
	if x.endpoint == provider.Completions {
		ch["text"] = ""
	} else {
		ch["delta"] = map[string]any{}
	}
	if x.style == "azure" {
		ch["content_filter_results"] = guard.AzureContentFilterResults(res, false)
	}
	b, _ := json.Marshal(g.frame(ch))
	return [][]byte{sseEvent("", b), []byte("data: [DONE]\n\n")}
}

func sseEvent(name string, data []byte) []byte {
	var b bytes.Buffer
	if name != "" {
		b.WriteString("event: ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes()
}
