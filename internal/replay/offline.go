package replay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/store"
)

// Offline is a self-contained pipeline for replay: it identifies the key
// (by key_id, creating keys on the fly, or by the credential in the
// headers), applies the key's status, throttle, step-up and rpm limit,
// runs a stand-in guard, answers like the mock provider, prices the answer
// and publishes the event. It keeps the authorization semantics of the
// gateway so that detector decisions take effect on the next request.
type Offline struct {
	Keys store.Keys
	Bus  *event.Bus
	// StepUp decides requests on keys under step-up; nil refuses them all.
	StepUp func(keyID, clientIP, fingerprint string) bool
	// ThrottleRPM is the rate a throttled key keeps (default 2 per minute).
	ThrottleRPM int

	seq     int
	windows map[string]*window
}

// window counts a key's requests in the current minute of event time.
type window struct {
	minute int64
	n      int
}

func (o *Offline) allow(keyID string, rpm int, now time.Time) (bool, time.Duration) {
	if o.windows == nil {
		o.windows = make(map[string]*window)
	}
	w := o.windows[keyID]
	if w == nil {
		w = &window{}
		o.windows[keyID] = w
	}
	m := now.Unix() / 60
	if m != w.minute {
		w.minute, w.n = m, 0
	}
	if w.n >= rpm {
		return false, time.Duration(60-now.Unix()%60) * time.Second
	}
	w.n++
	return true, 0
}

// Do implements Pipeline.
func (o *Offline) Do(ctx context.Context, rec *record.Record) (int, *event.Event) {
	o.seq++
	now := rec.TS
	e := &event.Event{ID: fmt.Sprintf("replay-%d", o.seq), Time: now, ClientIP: rec.ClientIP, Method: rec.Method, Path: rec.Path}
	e.Client = clientOf(rec)
	e.Fingerprint = detect.FingerprintOf(e.Client)
	e.Style, e.Endpoint, e.Model = route(rec.Method, rec.Path)
	b := rec.BodyBytes()
	e.RequestLen = int64(len(b))
	f, prompt, bodyModel := featuresOf(b)
	e.Features = f
	if e.Model == "" {
		e.Model = bodyModel
	}
	finish := func(status int, code, refusal string) (int, *event.Event) {
		e.Status, e.ErrorCode, e.Refusal = status, code, refusal
		if o.Bus != nil {
			o.Bus.Publish(ctx, e)
		}
		return status, e
	}

	k, err := o.key(ctx, rec)
	if err != nil {
		return finish(401, "invalid_api_key", "auth")
	}
	e.KeyID, e.KeyOwner, e.KeyKind, e.AuthMethod = k.ID, k.Owner, string(k.Kind), "key"
	if ok, _ := k.Usable(now); !ok {
		return finish(401, "invalid_api_key", "auth")
	}
	if k.Kind != keys.KindCanary && k.ActionUntil != nil && now.Before(*k.ActionUntil) {
		switch k.Action {
		case keys.ActionStepUp:
			if o.StepUp == nil || !o.StepUp(k.ID, rec.ClientIP, e.Fingerprint) {
				return finish(403, "step_up_required", "detector")
			}
		case keys.ActionThrottle:
			rpm := o.ThrottleRPM
			if rpm <= 0 {
				rpm = 2
			}
			if ok, ra := o.allow(k.ID+"\x00throttle", rpm, now); !ok {
				e.RetryAfter = ra
				return finish(429, "throttled", "detector")
			}
		}
	}
	if k.RPM > 0 {
		if ok, ra := o.allow(k.ID, k.RPM, now); !ok {
			e.RetryAfter = ra
			return finish(429, "rate_limit_exceeded", "limit")
		}
	}
	e.Guard = guardOf(prompt)
	status, code := mockAnswer(e)
	if status == 200 {
		price(e)
	}
	e.Provider, e.Upstream = "mock", e.Model
	return finish(status, code, "")
}

// key finds the record's key, creating a key_id seen for the first time.
func (o *Offline) key(ctx context.Context, rec *record.Record) (*keys.Key, error) {
	if rec.KeyID != "" {
		k, err := o.Keys.KeyByID(ctx, rec.KeyID)
		if !errors.Is(err, store.ErrNotFound) {
			return k, err
		}
		sec, err := keys.Generate(rand.Reader)
		if err != nil {
			return nil, err
		}
		kind := keys.KindStandard
		if rec.KeyKind == string(keys.KindCanary) {
			kind = keys.KindCanary
		}
		k = &keys.Key{ID: rec.KeyID, Hash: sec.Hash(), Name: rec.KeyID, Owner: rec.KeyOwner, Kind: kind,
			Status: keys.StatusActive, CreatedAt: rec.TS.UTC(), UpdatedAt: rec.TS.UTC(),
			Labels: map[string]string{"created_by": "replay"}}
		if err := o.Keys.CreateKey(ctx, k); err != nil {
			return nil, fmt.Errorf("replay: create key %s: %w", rec.KeyID, err)
		}
		return k, nil
	}
	cred := credential(rec)
	if cred == "" {
		return nil, errors.New("replay: no credential")
	}
	return o.Keys.KeyByHash(ctx, keys.HashOf(cred))
}

// mockAnswer answers like an Azure OpenAI deployment would, including the
// errors key checkers look for.
func mockAnswer(e *event.Event) (int, string) {
	f := &e.Features
	image := strings.Contains(e.Model, "dall-e") || strings.Contains(e.Model, "image")
	switch e.Endpoint {
	case "deployments.list", "models.list":
		return 200, ""
	case "chat.completions", "completions":
		if image {
			return 400, "OperationNotSupported"
		}
		if f.MaxTokens < 0 {
			return 400, "invalid_value"
		}
		ctxLen := 128000
		switch {
		case strings.Contains(e.Model, "gpt-4-32k"):
			ctxLen = 32768
		case strings.Contains(e.Model, "gpt-4") && !strings.Contains(e.Model, "gpt-4o") && !strings.Contains(e.Model, "turbo"):
			ctxLen = 8192
		case strings.Contains(e.Model, "gpt-35"):
			ctxLen = 16384
		}
		if f.MaxTokens+f.PromptChars/4 > ctxLen {
			return 400, "context_length_exceeded"
		}
		if len(e.Guard) > 0 && len(f.ConvRoot) > 0 && f.ConvRoot[0] < '6' { // about a third of flagged prompts
			return 400, "content_filter"
		}
		e.FinishReason = "stop"
		return 200, ""
	case "images.generations":
		if !image && e.Model != "" {
			return 404, "DeploymentNotFound"
		}
		if f.ConvRoot != "" && f.ConvRoot[0] < '4' && len(f.Phrases) > 0 { // a quarter of wrapped prompts
			return 400, "content_policy_violation"
		}
		return 200, ""
	case "embeddings":
		return 200, ""
	}
	return 404, "not_found"
}

// price fills tokens and cost with list prices (USD per 1k tokens or per
// image) of the model family.
func price(e *event.Event) {
	f := &e.Features
	if e.Endpoint == "images.generations" {
		n := max(f.N, 1)
		e.Images = n
		unit := 0.04
		if f.ImageQuality == "hd" {
			unit = 0.08
		}
		if f.ImageSize == "1792x1024" || f.ImageSize == "1024x1792" {
			unit += 0.04
		}
		e.CostUSD = unit * float64(n)
		return
	}
	e.PromptTokens = f.PromptChars/4 + 8
	if e.Endpoint == "chat.completions" || e.Endpoint == "completions" {
		out := 40 + f.PromptChars/6
		if f.MaxTokens > 0 && out > f.MaxTokens {
			out = f.MaxTokens
		}
		e.CompletionTokens = out
	}
	in, out := 0.0025, 0.01
	switch {
	case strings.Contains(e.Model, "gpt-4o-mini"), strings.Contains(e.Model, "mini"):
		in, out = 0.00015, 0.0006
	case strings.Contains(e.Model, "gpt-4o"):
	case strings.Contains(e.Model, "gpt-4-32k"):
		in, out = 0.06, 0.12
	case strings.Contains(e.Model, "gpt-4"):
		in, out = 0.03, 0.06
	case strings.Contains(e.Model, "gpt-35"):
		in, out = 0.0005, 0.0015
	case strings.Contains(e.Model, "embedding"):
		in, out = 0.0001, 0
	}
	e.CostUSD = (float64(e.PromptTokens)*in + float64(e.CompletionTokens)*out) / 1000
}
