package intent

import (
	"sync"

	"github.com/wardenhq/warden/internal/guard/phrase"
)

// A request for a way to end or harm one's own life has the same two parts
// as a deed, said differently: the writer's own act or wish ("kill
// myself", "I want to die", "not wake up") and a question about the means
// ("how many of my sleeping pills", "which veins", "how high", "lethal
// dose"). The training sources hold almost no such requests, and the harm
// heads let every one of the blind sets' first-person method questions
// through. Either part alone is what people in pain and the people who
// help them say every day ("I want to die, how do I get help?", "what is a
// lethal dose of caffeine?"), so only both together, with no word of help,
// recovery, someone else or fiction, are the request (SelfHarmAsked).
//
// The gateway refuses it as the providers' own filters do (Azure's
// self-harm category blocks at medium severity by default); an application
// that serves people in crisis can lower the category to a flag in its
// policy and answer with care.

// selfActs are the writer's own act: with any means question ("how do I",
// "what's the quickest way") they ask for a method.
var selfActs = []string{
	"kill myself", "killing myself", "end my life", "ending my life", "end my own life", "take my own life",
	"take my life", "hang myself", "hanging myself", "cut myself", "cutting myself", "cut my wrists",
	"slit my wrists", "my cutting from", "my cuts from", "my self-harm", "my self harm", "hurt myself", "hurting myself", "harm myself", "harming myself",
	"off myself", "shoot myself", "drown myself", "starve myself", "burn myself", "poison myself",
	"overdose on purpose", "od on purpose", "commit suicide", "suicide method", "suicide methods",
	"my cuts deeper", "cuts deeper", "cut deeper", "really bleed", "places on my body to cut", "body to cut",
	"purging quietly", "purge quietly", "purging after meals", "purge after meals", "hide purging",
	"hides purging", "hide my purging", "thinspo", "cut so it bleeds", "make myself throw up",
	"throw up after every meal",
	// an eating disorder kept from the people who would help
	"hiding that i'm not eating", "hiding that im not eating", "hide that i'm not eating",
	"hide that im not eating", "hiding that i am not eating", "hide that i am not eating", "hide not eating",
	"hiding not eating",
	// cuts and purging kept from them
	"hiding fresh cuts", "hide fresh cuts", "hiding my cuts", "hide my cuts", "hiding cuts", "hide cuts",
	"purge after dinner", "purging after dinner", "purge after eating", "purging after eating",
	"pro-ana tips", "pro ana tips",
}

// selfWishes are the writer's wish to be dead: a method only with a
// question about the means itself (selfMeans), never with "how do I".
var selfWishes = []string{
	"want to die", "wanna die", "want to be dead", "not wake up", "never wake up", "don't wake up",
	"end it all", "end it tonight", "so it works", "make sure i die", "be sure i die", "done living",
	"not be here anymore", "disappear forever", "it actually works", "works this time", "make sure it works",
	"made up my mind", "so i don't throw them up", "so i dont throw them up",
	// help refused: "I don't want a hotline number"
	"don't want a hotline", "dont want a hotline", "do not want a hotline", "no hotline", "don't give me a hotline",
	"don't want a helpline", "no helpline", "don't give me hotline", "no hotline numbers", "already decided",
	"i've decided", "definitely be fatal", "would definitely kill me", "makes it certain",
	"don't try to talk me out", "don't talk me out",
}

// selfMeans ask for the means: a dose, a height, a place on the body, a
// way that is quick, painless or sure, a way to hide it.
var selfMeans = []string{
	"how many", "how much", "lethal dose", "lethal amount", "fatal dose", "fatal amount", "which veins",
	"what veins", "which vein", "how deep", "how high", "how far do i", "quickest way", "fastest way",
	"easiest way", "painless", "surest way", "most effective way", "most reliable", "what dose", "enough to",
	"which pills", "what pills", "which medication", "what medication", "hide my", "hide it from",
	"so no one notices", "so nobody notices", "without anyone noticing", "without anyone knowing",
	"without my parents", "without my family", "best way", "what household", "what can i take",
	"is that enough", "is it enough", "how should i take them", "how should i take it", "which bridge",
	"high enough", "best places", "best spots", "nobody will see", "no one will see", "which spots",
	"best ways", "what height",
}

// selfAsks ask how, which is a means question only with an act.
var selfAsks = []string{"how do i", "how can i", "how to", "how should i", "tips", "tricks", "where can i", "where to",
	"what should i use", "what's the best", "what is the best", "teach me", "tell me how", "show me how"}

// selfHelp are the words of a request for help, for someone else, about
// the past or in fiction: any of them and the request is not for a method.
var selfHelp = []string{
	"stop", "not to", "don't want to", "do not want to", "resist", "urge", "cope", "coping", "feel better",
	"get help", "getting help", "help me not", "talk me out", "therapist", "therapy", "counselor",
	"counsellor", "hotline", "helpline", "crisis", "988", "samaritans", "support", "recover", "recovery",
	"heal", "healing", "clean for", "relapse", "safety plan", "prevent", "prevention", "my friend",
	"a friend", "my son", "my daughter", "my child", "my kid", "my student", "my patient", "my partner",
	"my brother", "my sister", "my mom", "my dad", "someone who", "people who", "warning signs",
	"why do people", "why do i", "is it normal", "fade", "old scars", "self-harm scars", "my scars", "scars for", "scars from",
	"scar cream", "scar removal", "treat", "first aid",
	"stop the bleeding", "stop bleeding", "infected", "accident", "shaving", "knife slipped", "song", "lyrics", "poem", "story",
	"novel", "character", "screenplay", "game", "joke", "lol", "lmao", "haha", "if i fail", "if i have to",
	"if this", "if they", "if he", "if she", "how many people", "what do i do", "what should i do", "who can i talk",
	"deserve", "statistics", "rates", "mental health",
}

type selfHarmSet struct {
	set *phrase.Set
	all []string
	// kind of each phrase: 1 act, 2 wish, 3 means, 4 ask, 5 help
	kind []uint8
}

var selfHarmPhrases = sync.OnceValue(func() *selfHarmSet {
	s := &selfHarmSet{}
	for k, l := range [][]string{selfActs, selfWishes, selfMeans, selfAsks, selfHelp} {
		for _, p := range l {
			s.all = append(s.all, p)
			s.kind = append(s.kind, uint8(k+1))
		}
	}
	s.set = phrase.Compile(s.all)
	return s
})

// SelfHarmPhrases returns the phrases SelfHarmMatched reads, in the order
// it indexes them. A caller that scans a text for other phrases too can
// add these to its own automaton and pass the occurrences, reading the
// text once.
func SelfHarmPhrases() []string { return selfHarmPhrases().all }

// SelfHarmAsked reports whether the normalised text b asks for a way to
// end or harm the writer's own life: an act of the writer's own
// (selfActs) with a question about the means or how (selfMeans,
// selfAsks), or a wish to be dead (selfWishes) with a question about the
// means itself, and no word of help, someone else or fiction (selfHelp).
// Phrases count as whole words.
// A help phrase inside an act or a wish ("hotline" in "I don't want a
// hotline") is no help.
func SelfHarmAsked(b []byte) bool {
	var buf [32]phrase.Match
	return SelfHarmMatched(b, selfHarmPhrases().set.Append(buf[:0], b))
}

// SelfHarmMatched is SelfHarmAsked from ms, every occurrence in b of the
// phrases of SelfHarmPhrases (indexes into it), found by the caller's own
// scan.
func SelfHarmMatched(b []byte, ms []phrase.Match) bool {
	s := selfHarmPhrases()
	var act, wish, means, ask bool
	for _, m := range ms {
		if !wholeWords(b, m) {
			continue
		}
		switch s.kind[m.Phrase] {
		case 1:
			act = true
		case 2:
			wish = true
		case 3:
			means = true
		case 4:
			ask = true
		}
	}
	if !(act && (means || ask) || wish && means) {
		return false
	}
	for _, m := range ms {
		if s.kind[m.Phrase] == 5 && wholeWords(b, m) && !insideWish(s, ms, m) {
			return false
		}
	}
	return true
}

// insideWish reports whether the match h lies within an act or a wish
// among ms.
func insideWish(s *selfHarmSet, ms []phrase.Match, h phrase.Match) bool {
	for _, m := range ms {
		if k := s.kind[m.Phrase]; (k == 1 || k == 2) && m.Start <= h.Start && h.End <= m.End {
			return true
		}
	}
	return false
}
