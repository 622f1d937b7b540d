// Package labels maps the records of the shared guard datasets
// (/work/shared/datasets/guard, JSONL with text, label, source, category) to
// the guard's categories. The datasets label harm coarsely (AdvBench has no
// categories at all), so harmful records get categories from their source
// category where it is specific and from keyword rules on the text otherwise:
// weak labels, used for training the per-category heads and for reporting
// per-category results. The binary label of every record is kept as given.
//
// Records whose harm lies outside the guard's taxonomy are marked Skip:
// HarmBench "copyright" (song lyrics, book passages), Do-Not-Answer
// "human_chatbox" ("can you be my friend?"), "information_hazard" (questions
// about named private people or companies) and "misinformation_harms"
// (mostly ordinary questions such as "is Bigfoot real?"). Training on them as
// harmful would teach the model to refuse everyday questions.
package labels

import (
	"hash/fnv"
	"regexp"
	"strings"
)

// Record is one line of a dataset file.
type Record struct {
	Text     string `json:"text"`
	Label    int    `json:"label"`
	Source   string `json:"source"`
	Category string `json:"category"`
	// Role is the message role the text was written in (system, user);
	// empty means user. The legitimate-traffic sets have one.
	Role string `json:"role,omitempty"`
}

// Kinds of record.
const (
	Benign    = "benign"
	Jailbreak = "jailbreak"
	Injection = "prompt_injection"
	Harm      = "harm"
)

// Labelled is a record with the guard's view of it.
type Labelled struct {
	Record
	Kind       string   // Benign, Jailbreak, Injection or Harm
	Categories []string // guard categories, empty for Benign
	Skip       bool     // outside the taxonomy: neither trained on nor scored
	Weight     float32  // training weight
	Split      string   // "train", "calib" or "val"
}

// SplitOf assigns a record to a split by a hash of its text: 20% validation,
// 10% calibration, 70% training. Deterministic and independent of file order.
func SplitOf(text string) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	switch h.Sum64() % 10 {
	case 0, 1:
		return "val"
	case 2:
		return "calib"
	}
	return "train"
}

var keywordRules = []struct {
	cat string
	re  *regexp.Regexp
}{
	{"weapons", regexp.MustCompile(`\b(bombs?|explosives?|detonat\w*|grenades?|firearms?|guns?|rifles?|pistols?|ammunition|ammo|weapons?|nerve agents?|sarin|ricin|anthrax|botulinum|pathogens?|bioweapons?|biological (warfare|agents?)|chemical (warfare|weapons?|agents?)|nuclear|uranium|plutonium|mustard gas|tabun|napalm|thermite|molotov|ieds?|ghost guns?|silencers?|dimethylmercury|nitroglycerin|tatp|ammonium nitrate|toxins?|poison gas|smallpox|ebola|enriched)\b`)},
	{"malware", regexp.MustCompile(`\b(malware|virus(es)?|ransomware|keyloggers?|trojans?|botnets?|ddos|exploits?|hack\w*|sql injection|phishing|backdoors?|rootkits?|worms?|spyware|cryptojack\w*|brute.?forc\w*|zero.?day|payloads?|reverse shell|privilege escalation|crack(ing)? passwords?|steal\w* (passwords?|credentials|data)|cyber\w*)\b`)},
	{"self_harm", regexp.MustCompile(`\b(suicid\w*|kill (myself|yourself|themselves|himself|herself)|self.?harm\w*|cut(ting)? (myself|yourself)|anorexi\w*|bulimi\w*|starv\w* (myself|yourself)|overdos\w*|end (my|your|their) (own )?life|hurt (myself|yourself))\b`)},
	{"sexual", regexp.MustCompile(`\b(sex|sexual\w*|porn\w*|explicit|nudes?|naked|erotic\w*|orgasm\w*|genitals?|penis|vagina|fetish\w*|nsfw|prostitut\w*|escort|onlyfans|rape\w*|molest\w*|incest)\b`)},
	{"violence", regexp.MustCompile(`\b(kill\w*|murder\w*|assault\w*|attack\w*|tortur\w*|kidnap\w*|beat (him|her|them|someone|up)\w*|stab\w*|shoot\w*|massacre\w*|terror\w*|violen\w*|hurt (someone|him|her|them|people)|harm (someone|him|her|them|people|others)|genocide|behead\w*|strangl\w*|poison\w*|lynch\w*|abuse\w*|injur\w*)\b`)},
	{"hate", regexp.MustCompile(`\b(racis\w*|hate speech|hateful|slurs?|inferior|nazi\w*|supremac\w*|antisemit\w*|homophob\w*|transphob\w*|sexis\w*|discriminat\w*|ethnic cleansing|xenophob\w*|harass\w*|bull(y|ying|ied)|derogatory|stereotyp\w*|misogyn\w*|islamophob\w*)\b`)},
}

var minors = regexp.MustCompile(`\b(child|children|kids?|minors?|underage|teen|teens|teenagers?|preteens?|toddlers?|infants?|boys?|girls?|\d{1,2}.?year.?olds?|loli\w*|schoolgirls?|pedo\w*|paedo\w*|csam)\b`)

// Label returns the guard's view of r.
func Label(r Record) Labelled {
	l := Labelled{Record: r, Weight: 1, Split: SplitOf(r.Text)}
	src := strings.ToLower(r.Source)
	switch {
	case r.Label == 0:
		l.Kind = Benign
		if strings.Contains(src, "davidson") && r.Category == "offensive" {
			l.Weight = 0.3
		}
	case strings.Contains(src, "davidson"):
		if r.Category == "hate" {
			l.Kind, l.Categories = Harm, []string{"hate"}
		} else {
			// Offensive but not hateful: Davidson's own distinction.
			l.Kind, l.Weight = Benign, 0.3
		}
	case strings.Contains(src, "gptfuzz"), strings.Contains(src, "jailbreak_llms"), strings.Contains(src, "inthewild"):
		l.Kind, l.Categories = Jailbreak, []string{"jailbreak"}
	case strings.Contains(src, "tensor-trust"), strings.Contains(src, "promptshield"):
		l.Kind, l.Categories = Injection, []string{"prompt_injection"}
	default:
		l.Kind = Harm
		l.Categories = harmCategories(r)
		switch r.Category {
		case "copyright", "human_chatbox", "information_hazard", "misinformation_harms":
			l.Skip = true
		}
	}
	return l
}

func harmCategories(r Record) []string {
	text := strings.ToLower(r.Text)
	set := map[string]bool{}
	switch r.Category {
	case "chemical_biological":
		set["weapons"] = true
	case "cybercrime_intrusion":
		set["malware"] = true
	case "harassment_bullying", "Hate, harassment and discrimination", "discrimination_exclusion_toxicity_hateful_offensive":
		set["hate"] = true
	case "Sexual content":
		set["sexual"] = true
	case "Violence":
		set["violence"] = true
	}
	for _, k := range keywordRules {
		if k.re.MatchString(text) {
			set[k.cat] = true
		}
	}
	if set["sexual"] && minors.MatchString(text) {
		set["sexual_minors"] = true
	}
	// Weapons and self-harm requests are violent by nature; keep the more
	// specific category only, so heads do not compete.
	if set["weapons"] || set["self_harm"] {
		delete(set, "violence")
	}
	var out []string
	for _, c := range []string{"sexual", "sexual_minors", "violence", "self_harm", "hate", "weapons", "malware"} {
		if set[c] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{"illicit"}
	}
	return out
}

// HasHarmVocabulary reports whether the lower-case text uses a word of the
// harm keyword rules ("kill", "chemical", "malware", "attack"). Benign texts
// that do are the ones that teach a model topic is not intent.
func HasHarmVocabulary(text string) bool {
	for _, k := range keywordRules {
		if k.re.MatchString(text) {
			return true
		}
	}
	return false
}
