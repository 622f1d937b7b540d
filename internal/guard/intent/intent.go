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

	ac "github.com/petar-dambovaliev/aho-corasick"
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

type matcher struct {
	ac    ac.AhoCorasick
	nDef  int
	total int
}

var (
	once sync.Once
	m    *matcher
)

func get() *matcher {
	once.Do(func() {
		phrases := append(append(append([]string{}, Defensive...), Technical...), Operational...)
		b := ac.NewAhoCorasickBuilder(ac.Opts{MatchKind: ac.StandardMatch, DFA: true})
		m = &matcher{ac: b.Build(phrases), nDef: len(Defensive) + len(Technical), total: len(phrases)}
	})
	return m
}

// Compile builds the phrase automaton now rather than at the first Adjust,
// keeping its cost (milliseconds) off the first request.
func Compile() { get() }

// Counts returns how many distinct defensive and operational phrases occur in
// the normalised text b.
//
// Only the first and last Span bytes are read: framing belongs to the
// instruction, which opens or closes a request, not to an attached
// document; this also bounds the cost for long texts.
func Counts(b []byte) (defensive, operational int) {
	if len(b) > 2*Span {
		d1, o1 := count(b[:Span])
		d2, o2 := count(b[len(b)-Span:])
		return min(d1+d2, 8), min(o1+o2, 8)
	}
	return count(b)
}

// Span is how many bytes at each end of a text Counts reads.
const Span = 512

func count(b []byte) (defensive, operational int) {
	mm := get()
	var seen [4]uint64 // phrases < 256
	it := mm.ac.IterOverlappingByte(b)
	for x := it.Next(); x != nil; x = it.Next() {
		p := x.Pattern()
		if p >= 256 || seen[p/64]&(1<<(p%64)) != 0 {
			continue
		}
		seen[p/64] |= 1 << (p % 64)
		if p < mm.nDef {
			defensive++
		} else {
			operational++
		}
	}
	return defensive, operational
}

// Adjust returns the logit offset for the harm heads of the normalised text
// b: -PerDefensive per defensive phrase (at most MaxDefensive) plus
// PerOperational per operational phrase (at most MaxOperational).
func Adjust(b []byte) float32 {
	d, o := Counts(b)
	return float32(min(PerOperational*float64(o), MaxOperational) - min(PerDefensive*float64(d), MaxDefensive))
}
