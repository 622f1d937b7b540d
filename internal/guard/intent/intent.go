// Package intent reads the framing of a request: whether it asks to
// understand, prevent or write about something (defensive or educational
// framing: "how do I protect", "what is", "signs of", "in my novel"), or asks
// for operational help with harm ("step-by-step", "write code that",
// "without getting caught").
//
// The guard's harm models are bags of n-grams: they key on topic words
// ("kill", "chemicals", "malware") and cannot tell "how do I protect my app
// from SQL injection" from "write an SQL injection that dumps the users
// table". Adjust returns a small logit offset that the guard adds to its harm
// heads (never to the jailbreak and prompt-injection heads): negative for
// defensive framing, positive for operational framing, each bounded, so that
// only scores near the operating point move. It is the second stage of a
// two-stage decision documented in docs/guard-model-card.md; the training
// command calibrates the heads with the offset applied, so the operating
// points already account for it.
//
// The offset is a heuristic and can be gamed: a harmful request that adds
// "how can I prevent this" gains at most MaxDefensive. Rules for
// high-precision harm phrases (guard/rules.go) are not affected.
//
// Phrases are matched on normalised text (package textnorm): lower case,
// single spaces.
package intent

import (
	"sync"

	"github.com/wardenhq/warden/internal/guard/phrase"
)

// Weights of one phrase and bounds of the total, in logit units.
const (
	PerDefensive   = 0.6
	MaxDefensive   = 1.2
	PerOperational = 0.5
	MaxOperational = 1.0
)

// Defensive phrases: the request is about understanding, preventing,
// detecting, recovering from, or writing fiction or history about a harm.
var Defensive = []string{
	"how do i protect", "how can i protect", "how to protect", "protect myself", "protect my ", "protect our",
	"protect against", "protect them", "protect us", "defend against", "defend my", "defend our", "keep my ",
	"prevent", "mitigate", "mitigation", "detect", "recognise", "recognize", "spot the signs",
	"warning signs", "signs of", "symptoms of", "safely", "safety", "is it safe", "safe to ", "securely",
	"secure my", "secure our", "sanitise", "sanitize", "dispose of", "first aid", "report a ", "report it",
	"report hate", "how do i report", "what is a ", "what is an ", "what is the history", "what was ", "what happened", "explain what", "history of", "why did ", "why was ",
	"why were ", "why is it dangerous", "for my class", "for my exam", "for a class", "for my course",
	"history essay", "history lesson", "lesson plan", "in my novel", "my novel", "my story", "short story",
	"my screenplay", "a poem about", "fictional", "help a friend", "support a ", "support my", "cope with",
	"coping", "crisis line", "hotline", "talk to my kids", "legally", "is it legal", "penalties for", "remove it",
	"get rid of malware", "recover from", "after a data breach", "train my staff", "awareness",
}

// Operational phrases: the request asks for working instructions, code or
// evasion.
var Operational = []string{
	"step-by-step", "step by step", "detailed instructions", "detailed guide", "exact instructions",
	"without getting caught", "without being caught", "without being detected", "without detection",
	"evade detection", "avoid detection", "avoid being detected", "escape detection", "risking detection",
	"go undetected", "remain undetected", "stay undetected", "not be detected", "not get detected",
	"without them knowing", "without anyone knowing", "so nobody", "so no one", "get away with",
	"undetectable", "untraceable", "write code that", "write a script that", "write a program that",
	"write code to", "write a script to", "synthesize", "synthesise", "evade", "bypass", "steal",
	"make it look like an accident", "at home without", "from household",
}

// Technical phrases: the target of the verb is a program, a machine or a
// photograph, not a person ("kill a Python process", "execute a shell
// script", "shoot a photo"). Harm is judged on intent and target; these
// count as defensive framing, within its bound.
var Technical = []string{
	"python process", "stuck process", "kill a process", "kill the process", "kill process", "child process",
	"zombie process", "background process", "a thread", "the thread", "threads", "shell script", "bash script",
	"on startup", "cron job", "a container", "docker", "kubernetes", "the pod", "command line", "terminal",
	"in python", "in java", "in javascript", "in sql", "sql query", "segmentation fault", "my code", "the build",
	"unit test", "git ", "a photo", "photos", "a picture", "photograph", "camera", "tripod", "in excel",
	"spreadsheet", "my game", "video game", "in minecraft", "chess", "the server", "my server", "linux",
}

var (
	once sync.Once
	set  *phrase.Set
	nDef int
)

func get() *phrase.Set {
	once.Do(func() {
		set = phrase.Compile(Phrases())
		nDef = len(Defensive) + len(Technical)
	})
	return set
}

// Compile builds the phrase automaton now rather than at the first Adjust,
// keeping its cost (milliseconds) off the first request.
func Compile() { get() }

// Phrases returns the framing phrases in the order AdjustMatches indexes
// them: Defensive, Technical, Operational. A caller that scans a text for
// other phrases too can add these to its own automaton and pass the
// occurrences to AdjustMatches, reading the text once.
func Phrases() []string {
	return append(append(append([]string{}, Defensive...), Technical...), Operational...)
}

// Counts returns how many distinct defensive and operational phrases occur in
// the normalised text b.
//
// Only the first and last Span bytes are read: framing belongs to the
// instruction, which opens or closes a request, not to an attached
// document; this also bounds the cost for long texts.
func Counts(b []byte) (defensive, operational int) {
	var buf [32]phrase.Match
	ms := buf[:0]
	if len(b) > 2*Span {
		ms = get().Append(ms, b[:Span])
		k := len(ms)
		ms = get().Append(ms, b[len(b)-Span:])
		for i := k; i < len(ms); i++ {
			ms[i].Start += int32(len(b) - Span)
			ms[i].End += int32(len(b) - Span)
		}
	} else {
		ms = get().Append(ms, b)
	}
	return countMatches(len(b), ms)
}

// Span is how many bytes at each end of a text Counts reads.
const Span = 512

// countMatches counts, as Counts does, the distinct phrases among ms, the
// occurrences of Phrases in a text of n bytes. Of a text longer than 2*Span
// only occurrences that lie within its first or last Span bytes count, each
// part's distinct phrases counted apart, and each total at most 8.
func countMatches(n int, ms []phrase.Match) (defensive, operational int) {
	get()
	if n <= 2*Span {
		var seen [4]uint64 // phrases < 256
		return countDistinct(ms, &seen, func(phrase.Match) bool { return true })
	}
	var seen1, seen2 [4]uint64
	d1, o1 := countDistinct(ms, &seen1, func(m phrase.Match) bool { return m.End <= Span })
	d2, o2 := countDistinct(ms, &seen2, func(m phrase.Match) bool { return m.Start >= int32(n-Span) })
	return min(d1+d2, 8), min(o1+o2, 8)
}

func countDistinct(ms []phrase.Match, seen *[4]uint64, in func(phrase.Match) bool) (defensive, operational int) {
	// Operational phrases that contain a defensive one ("without being
	// detected", "evade detection", "undetectable" contain "detect") are
	// evasion, not defence: the defensive phrase inside them does not
	// count. At most len(ops) of them are remembered; a text with more has
	// reached MaxOperational anyway.
	var ops [16]phrase.Match
	nops := 0
	for _, m := range ms {
		if int(m.Phrase) >= nDef && nops < len(ops) && in(m) {
			ops[nops] = m
			nops++
		}
	}
	for _, m := range ms {
		p := int(m.Phrase)
		if p >= 256 || seen[p/64]&(1<<(p%64)) != 0 || !in(m) {
			continue
		}
		if p < nDef && within(m, ops[:nops]) {
			continue
		}
		seen[p/64] |= 1 << (p % 64)
		if p < nDef {
			defensive++
		} else {
			operational++
		}
	}
	return defensive, operational
}

// within reports whether m lies inside one of spans.
func within(m phrase.Match, spans []phrase.Match) bool {
	for _, s := range spans {
		if s.Start <= m.Start && m.End <= s.End {
			return true
		}
	}
	return false
}

// Adjust returns the logit offset for the harm heads of the normalised text
// b: -PerDefensive per defensive phrase (at most MaxDefensive) plus
// PerOperational per operational phrase (at most MaxOperational).
func Adjust(b []byte) float32 {
	return offset(Counts(b))
}

// AdjustMatches returns Adjust(b) for a text b of n bytes from ms, every
// occurrence in b of the phrases of Phrases (indexes into Phrases, byte
// ranges of b), found by the caller's own scan.
func AdjustMatches(n int, ms []phrase.Match) float32 {
	return offset(countMatches(n, ms))
}

func offset(d, o int) float32 {
	return float32(min(PerOperational*float64(o), MaxOperational) - min(PerDefensive*float64(d), MaxDefensive))
}
