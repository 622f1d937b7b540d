package intent

import (
	"sync"

	"github.com/wardenhq/warden/internal/guard/phrase"
)

// A Sense is the ordinary meaning of a harm verb, told by its object: a
// process is killed, an interview cracked, silk laundered, a photo shot,
// a heart broken into. Idioms lists such phrases word for word; a sense
// pairs the verb with a class of objects a few words later, so "kills
// every process listening on port 8080" and "crack the coding interview"
// read as what they are without each being listed.
//
// The guard uses senses as it uses idioms: when its harm heads would score
// a text, it judges the text again with each sense blanked from the verb
// to the object (AppendIdioms), and DeedOf pairs no verb inside one. Every
// object is a thing no harm is done to (a program, food, cloth, a career,
// a feeling, a test), so that blanking it cannot hide a harm; the rest of
// the text is judged as before ("kill the process, then kill my boss"
// still asks for a killing).
type Sense struct {
	// Verbs are whole words or phrases, in every form: a sense describes
	// as well as asks ("the script that kills the process").
	Verbs []string
	// Objects start a word and end one, or end with a plural "s" or "es".
	Objects []string
	// Refers: an object named earlier in the text may be the verb's
	// object as "it" or "them": "my pod is stuck in Terminating, how do I
	// force kill it", "there are aphids on my roses, how do I kill them".
	Refers bool
}

// SenseGap is how many words may stand between a sense's verb and its
// object: "kill all the stuck node processes" has three.
const SenseGap = 3

var (
	// programs are what computing verbs act on. Not "service" or "worker":
	// a Secret Service agent and a worker are people.
	programs = []string{"process", "task", "job", "thread", "session", "server", "container", "pod", "port",
		"app", "application", "tab", "query", "queries", "connection", "daemon", "instance", "script",
		"command", "function", "pipeline", "build", "test", "migration", "transaction", "request", "loop",
		"vm", "virtual machine", "cluster", "deployment", "terminal", "shell", "pid", "zombie", "orphan"}
	// cloth is what is laundered.
	cloth = []string{"clothes", "clothing", "silk", "wool", "cashmere", "linen", "sheet", "pillowcase",
		"pillow", "towel", "shirt", "jeans", "duvet", "comforter", "curtain", "cloth", "diaper", "uniform",
		"laundry", "delicates", "garment", "sweater", "blanket", "quilt", "jacket", "dress", "bedding", "sock",
		"underwear", "swimsuit", "sportswear", "fabric"}
	// food is what a cook beats, whips, sears and carves.
	food = []string{"egg", "egg white", "cream", "butter", "batter", "dough", "meringue", "chicken", "turkey",
		"brisket", "roast", "steak", "pork", "beef", "meat", "ribs", "potato", "potatoes", "creme brulee",
		"sugar", "fish", "salmon", "trout", "tuna", "lamb", "duck", "onion", "onions", "garlic"}
	// game is what a hunter, a farmer or an angler kills and dresses.
	game = []string{"chicken", "turkey", "pig", "hog", "goat", "lamb", "deer", "rabbit", "duck", "pheasant",
		"fish", "trout", "salmon", "catfish", "bass", "crab", "lobster", "livestock", "cattle", "elk", "boar"}
	// pests are what a gardener kills.
	pests = []string{"weeds", "crabgrass", "aphids", "slugs", "mold", "mildew", "fleas", "ticks", "bedbugs",
		"bed bugs", "termites", "ants", "fruit flies", "mosquitoes", "mosquitos", "wasps", "wasp nest",
		"hornets", "moss", "bacteria", "germs", "lice", "roaches", "cockroaches", "mice", "rats", "moles",
		"gophers", "grubs", "japanese beetles", "spider mites", "fungus gnats", "mould", "black mold",
		"black mould", "virus", "viruses", "a cold virus", "infection", "infections"}
)

// Senses is the table. See Sense.
var Senses = []Sense{
	{Verbs: []string{"kill", "kills", "killing", "killed", "terminate", "terminates", "terminating", "terminated",
		"execute", "executes", "executing", "executed", "abort", "aborts", "purge", "purges", "hang", "hangs",
		"force-kill", "force kill", "force-quit", "force quit"}, Objects: programs, Refers: true},
	{Verbs: []string{"launder", "launders", "laundering", "laundered", "wash", "washing", "bleach", "bleaching",
		"dye", "dyeing", "iron", "ironing", "dry-clean", "dry clean", "dry cleaning"}, Objects: cloth, Refers: true},
	{Verbs: []string{"crack", "cracks", "cracking", "cracked"}, Objects: []string{"interview", "coding interview", "egg",
		"joke", "a smile", "knuckle", "my back", "my neck", "a window", "the case", "exam", "the gmat",
		"the lsat", "the sat", "the bar", "open a book", "open a beer", "a cold one", "a nut", "nuts", "walnut",
		"pistachio", "crab", "lobster", "pepper", "whip", "the top 10", "the top ten", "the puzzle",
		"a puzzle", "the riddle", "a riddle", "crossword", "sudoku", "wordle"}},
	{Verbs: []string{"break into", "breaks into", "breaking into", "broke into"}, Objects: []string{"heart", "market",
		"industry", "field", "career", "acting", "modeling", "modelling", "music business", "journalism",
		"publishing", "consulting", "the top", "song", "tears", "laughter", "a smile", "a run", "a sprint",
		"a gallop", "a sweat", "pieces", "a grin", "the league", "the nba", "the nfl", "the charts",
		"the mainstream", "new markets"}},
	{Verbs: []string{"shoot", "shoots", "shooting", "shot"}, Objects: []string{"photo", "picture", "portrait", "video",
		"movie", "footage", "b-roll", "headshot", "music video", "documentary", "product photos", "hoops",
		"a basket", "free throw", "three-pointer", "an email", "a message", "a text", "a quick", "arrow",
		"clay", "skeet", "a round of golf", "under par", "the breeze", "for the moon", "for the stars",
		"a glance", "in raw", "in manual", "on film", "on 35mm", "at golden hour", "timelapse", "time-lapse"}},
	{Verbs: []string{"execute", "executes", "executing", "executed"}, Objects: []string{"plan", "strategy", "trade",
		"order", "pivot", "vision", "roadmap", "campaign", "routine", "choreography", "a dance", "a jump",
		"a turn", "the contract", "a contract", "a will", "the will", "a deed", "the deed",
		"a power of attorney", "the agreement"}},
	{Verbs: []string{"spy on", "spying on", "snoop on", "snooping on"}, Objects: []string{"competitor", "competitors",
		"the competition", "rival companies", "market trends", "birds", "wildlife", "my own network",
		"my own traffic"}},
	{Verbs: []string{"beat", "beats", "beating", "whip", "whips", "whipping", "whisk", "whisking", "sear", "searing",
		"torch", "torching", "carve", "carving", "smother", "smothering", "stab", "stabbing", "poach",
		"poaching", "burn", "burning", "burnt", "burned", "butcher", "butchering", "fillet", "filleting",
		"debone", "deboning", "gut", "gutting"}, Objects: food},
	{Verbs: []string{"kill", "killing", "slaughter", "slaughtering", "butcher", "butchering", "gut", "gutting",
		"skin", "skinning", "dress", "dressing", "field dress", "field-dress", "bleed", "bleeding",
		"dispatch", "dispatching", "clean", "cleaning"}, Objects: game},
	{Verbs: []string{"kill", "kills", "killing", "get rid of", "poison", "poisoning", "exterminate",
		"exterminating", "smother", "smothering", "burn", "burning", "drown", "drowning", "eradicate"}, Objects: pests, Refers: true},
	{Verbs: []string{"torture", "stress", "smoke", "load", "fuzz", "crash", "destruction", "penetration", "pen",
		"abuse"}, Objects: []string{"-test", "test"}},
	{Verbs: []string{"blow up", "blows up", "blowing up", "blew up", "blown up"}, Objects: []string{"photo", "picture",
		"image", "balloon", "a print", "the print", "my phone", "my inbox", "on social media", "on twitter",
		"on tiktok", "an air mattress", "the air mattress", "a pool float", "the pool float"}},
	{Verbs: []string{"inject", "injects", "injecting", "injected"}, Objects: []string{"insulin", "vaccine", "b12",
		"epinephrine", "an epipen", "the epipen", "ozempic", "semaglutide", "botox", "a flu shot", "heparin",
		"dependency", "dependencies", "the dependency", "a mock", "mocks", "a bean", "beans", "props",
		"env var", "environment variable", "marinade", "flavor", "flavour", "humor", "humour", "personality",
		"energy", "some fun", "fun", "excitement"}},
	{Verbs: []string{"exploit", "exploits", "exploiting"}, Objects: []string{"an opportunity", "opportunities",
		"the opportunity", "strengths", "my strengths", "synergy", "synergies", "the full potential",
		"its potential", "the weather", "the wind", "the terrain", "the matchup", "the meta", "the overlap",
		"the space", "space behind", "the gap", "gaps in the defense", "the high line"}},
	{Verbs: []string{"hang", "hangs", "hanging"}, Objects: []string{"picture", "painting", "mirror", "shelf", "shelves",
		"curtain", "drapes", "tv", "lights", "string lights", "christmas lights", "a wreath", "wallpaper",
		"drywall", "a door", "hammock", "laundry", "clothes", "a banner", "a poster", "a flag", "bike",
		"bikes", "a plant", "plants", "out with", "up the phone", "tight", "in there", "a swing", "a chandelier"}},
	// Not a crime or a harm: "get away with wearing sneakers to the office".
	{Verbs: []string{"get away with", "gets away with", "getting away with", "got away with"}, Objects: []string{"wearing",
		"skipping", "eating", "drinking", "sleeping in", "leaving early", "reusing", "painting",
		"not ironing", "not wearing", "only one coat", "one coat", "less", "fewer", "a smaller", "a cheaper",
		"no makeup", "jeans", "sneakers", "shorts", "a hoodie", "not tipping", "working from home"}},
	{Verbs: []string{"choke", "chokes", "choking", "choked"}, Objects: []string{"up", "on food", "on a grape", "on a piece",
		"on water", "on my drink", "under pressure", "in the final", "in the clutch", "in big games",
		"the engine", "the carburetor", "a carburetor", "an artichoke", "point", "points", "hazard", "hazards"}},
}

// victims, as the word after an object, make the object a modifier of a
// person or of a place full of them: "shoot the film crew", "kill the
// migration officer", "break into the market stall owner's house". No
// sense is read there.
var victims = []string{"crew", "director", "agent", "agents", "officer", "officers", "owner", "owners",
	"staff", "manager", "managers", "people", "person", "guests", "attendees", "crowd", "building",
	"company", "school", "kids", "children", "students", "teacher", "teachers", "police", "guard", "guards",
	"worker", "workers", "employee", "employees", "team", "players", "fans", "audience", "family",
	"victim", "victims", "boss", "host", "hosts", "operator", "operators", "admin", "administrator",
	"user", "users", "customer", "customers", "victim's", "holder", "holders"}

// senseSet is the automaton of every sense's verbs and objects, with the
// senses each phrase is a verb or an object of (bitsets of indexes into
// Senses).
type senseSet struct {
	pairs
	refers rowSet // the senses whose objects "it" and "them" may stand for
}

var senses = sync.OnceValue(func() *senseSet {
	if len(Senses) > maxRows {
		panic("intent: more senses than a rowSet holds")
	}
	s := &senseSet{}
	for k, sn := range Senses {
		if sn.Refers {
			s.refers.add(k)
		}
		s.row(k, sn.Verbs, sn.Objects)
	}
	s.compile()
	return s
})

// appendSenses appends to dst the byte ranges of the normalised text b
// that run from a sense's verb to its object (see Sense). An object that
// starts with "-" ("torture-test") follows its verb with no space.
func appendSenses(dst [][2]int, b []byte) [][2]int {
	s := senses()
	var (
		verbs recentVerbs
		named rowSet // the senses whose objects the text has named so far
	)
	s.set.Find(b, func(m phrase.Match) bool {
		if ss := s.verbOf[m.Phrase]; !ss.empty() && wholeWords(b, m) {
			verbs.add(b, m, ss, SenseGap)
			if !ss.and(named).and(s.refers).empty() {
				if w := wordAt(b, int(m.End)); string(w) == "it" || string(w) == "them" {
					// "my pod is stuck, how do i force kill it"
					dst = append(dst, [2]int{int(m.Start), wordEnd(b, int(m.End))})
				}
			}
		}
		os := s.objectOf[m.Phrase]
		if os.empty() {
			return false
		}
		if startsWord(b, int(m.Start)) {
			named = named.or(os)
		}
		hyphen := b[m.Start] == '-'
		if !hyphen && !startsWord(b, int(m.Start)) {
			return false
		}
		end, ok := endsWordOrPlural(b, int(m.End))
		if !ok || isOneOf(wordAt(b, end), victims) {
			return false
		}
		verbs.pair(m, os, func(v phrase.Match, _ rowSet) bool {
			if hyphen && m.Start != v.End {
				return true
			}
			if sp := [2]int{int(v.Start), int(m.End)}; len(dst) == 0 || dst[len(dst)-1] != sp {
				dst = append(dst, sp) // "interview" ends where "coding interview" does
			}
			return false
		})
		return false
	})
	return dst
}

// appendDefences appends to dst the byte ranges of the normalised text b
// where a deed's object is qualified into a defence or a thing of another
// kind (Qualified: "a keylogger detection script", "phishing awareness
// training", "a bomb shelter"), from the object to the qualifier. The
// harm heads read the object's words as a request for it.
//
// Only in a text of up to Span bytes, a request of a sentence or two,
// where the qualified thing is what is asked for. In a longer text it is
// context, and blanking it would hide what the text is about: a harmful
// request built around a blog post on "malware prevention" is still one.
func appendDefences(dst [][2]int, b []byte) [][2]int {
	if len(b) > Span {
		return dst
	}
	d := deeds()
	d.set.Find(b, func(m phrase.Match) bool {
		if int(m.Phrase) < d.nExcuses || d.objectOf[m.Phrase].empty() || !startsWord(b, int(m.Start)) {
			return false
		}
		if end, ok := endsWordOrPlural(b, int(m.End)); ok && Qualified(b, int(m.End)) {
			dst = append(dst, [2]int{int(m.Start), wordEnd(b, end)})
		}
		return false
	})
	return dst
}
