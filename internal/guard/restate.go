package guard

import (
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/guard/intent"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// The request an answer restates. A model that complies opens by saying
// what it is about to give: "Here's a script that floods a target website
// with requests", "To stalk your ex without her knowing, install ...", "You
// can make a working untraceable gun by ...". The harm heads learned
// requests, not answers, and judge the answer's own text poorly (of 39
// compliant harmful answers written by hand, the answer stage stopped 9);
// the request in its opening sentence is what they know. So an answer that
// does not refuse is also judged by its opening sentence, rewritten as the
// request it answers ("write a script that floods a target website with
// requests", "how to stalk my ex without her knowing") in a user's
// message's class, for harm only, at restatedShift's longer odds: the
// rewrite is a guess at the user's words, and only a request that the
// heads are sure of should stop an answer. If the user's request was
// harmful, the prompt stage judged it already; this catches what reached
// the model past it (a jailbreak the prompt stage missed, a request split
// over turns) and what the model volunteered.

// restatedShift is how much longer, in logits, the odds at which the
// restated request of an answer is judged than a user's own request.
const restatedShift = 2

// restatedLeadMax bounds the opening sentence read from an answer.
const restatedLeadMax = 300

// complianceLeads open an answer that agrees, before what it gives
// ("okay" before "ok": the first that matches is cut).
var complianceLeads = slices.Concat(agreements, []string{"no problem", "happy to help", "glad to help"})

// restatements rewrite the opening of a compliant answer as the request
// it answers: an answer that opens with from says it gives what a request
// that opens with to asks for. The first that matches applies; cut, if
// set, ends the request where it occurs ("the best way to X is Y": X).
var restatements = []struct{ from, to, cut string }{
	{"here's how to ", "how to ", ""},
	{"here is how to ", "how to ", ""},
	{"here's how you can ", "how can i ", ""},
	{"here is how you can ", "how can i ", ""},
	{"here's how you ", "how do i ", ""},
	{"here is how you ", "how do i ", ""},
	{"this is how to ", "how to ", ""},
	{"this is how you ", "how do i ", ""},
	{"here's ", "write ", ""},
	{"here is ", "write ", ""},
	{"here are ", "write ", ""},
	{"below is ", "write ", ""},
	{"below are ", "write ", ""},
	{"the best way to ", "what is the best way to ", " is "},
	{"the easiest way to ", "what is the easiest way to ", " is "},
	{"the most effective way to ", "what is the most effective way to ", " is "},
	{"the simplest way to ", "what is the simplest way to ", " is "},
	{"the fastest way to ", "what is the fastest way to ", " is "},
	{"one way to ", "what is a way to ", " is "},
	{"you can ", "how can i ", " by "},
	{"step-by-step guide to ", "step-by-step guide to ", ""},
	{"a step-by-step guide to ", "step-by-step guide to ", ""},
	{"guide to ", "guide to ", ""},
	{"instructions for ", "instructions for ", ""},
	// "To X, Y": a purpose clause ends at its comma (see restatedRequest).
	{"to ", "how to ", ","},
}

// restatedRequest returns the request that the answer t restates in its
// opening sentence, or "" if it opens in no way of restatements. The
// reader's pronouns become the writer's ("your ex" → "my ex"), as a user
// asks.
func restatedRequest(t string) string {
	t = strings.TrimLeft(t, " \t\r\n\"'*#")
	for _, o := range complianceLeads {
		if len(t) > len(o) && strings.EqualFold(t[:len(o)], o) {
			if rest := strings.TrimLeft(t[len(o):], "!.,:;-* "); len(rest) < len(t)-len(o) {
				t = strings.TrimLeft(rest, " \t\r\n")
			}
			break
		}
	}
	lead := strings.TrimRight(strings.TrimSpace(t[:sentenceEnd(t)]), ".:!?")
	lead = strings.ReplaceAll(lead, "’", "'") // "Here’s", as models write it
	for _, r := range restatements {
		if len(lead) < len(r.from) || !strings.EqualFold(lead[:len(r.from)], r.from) {
			continue
		}
		rest := lead[len(r.from):]
		if r.cut != "" {
			k := strings.Index(rest, r.cut)
			switch {
			case k > 0:
				rest = rest[:k]
			case r.cut == ",":
				return "" // "To be honest ..." has no purpose clause
			}
		}
		return r.to + asWriter(rest)
	}
	return ""
}

// sentenceEnd returns the end of t's first sentence (a full stop, "!",
// "?" or ":" before a space or the end, or a line break), at most
// restatedLeadMax bytes in.
func sentenceEnd(t string) int {
	for i := 0; i < len(t) && i < restatedLeadMax; i++ {
		switch t[i] {
		case '\n':
			return i
		case '.', '!', '?', ':':
			if i+1 == len(t) || t[i+1] == ' ' || t[i+1] == '\n' {
				return i + 1
			}
		}
	}
	return min(len(t), restatedLeadMax)
}

// asWriter turns the reader's pronouns in s into the writer's.
func asWriter(s string) string {
	w := strings.Fields(s)
	for i, x := range w {
		switch strings.ToLower(x) {
		case "your":
			w[i] = "my"
		case "you":
			w[i] = "i"
		case "yourself":
			w[i] = "myself"
		case "you're":
			w[i] = "i'm"
		}
	}
	return strings.Join(w, " ")
}

// judgeRestated judges the request that the answer t restates (see
// restatedRequest) as a user's request, by the models and the rules, and
// raises sc's harm categories to its scores at restatedShift's longer
// odds. Its attack scores are dropped: an answer is judged for harm only.
func (g *Guard) judgeRestated(s *scratch, t string, sc *Scores) {
	req := restatedRequest(t)
	if req == "" {
		return
	}
	// An answer that says how to keep someone safe ("To spot a fake ID,
	// check the hologram ...") restates a protective request: the heads
	// would judge it at longer odds as the user's (intent.Protective),
	// and an answer's own words are judged as before.
	s.seg = textnorm.Normalize(s.seg[:0], req)
	if intent.FramingOf(s.seg, true).Protects {
		return
	}
	var rsc Scores
	rs := newRuleState(g.rules)
	g.judge(s, req, RoleUser, &rsc, &rs)
	rs.apply(g.rules, &rsc)
	for i, c := range Categories {
		if !c.IsAttack() {
			sc[i] = max(sc[i], shiftOdds(rsc[i], restatedShift))
		}
	}
}
