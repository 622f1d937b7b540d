package guard

import "github.com/wardenhq/warden/internal/guard/textnorm"

// Short texts and attack heads. The jailbreak and prompt-injection heads
// are word models trained on templates and injected documents that begin
// the way ordinary requests do ("Write a short story about a character
// named John", "Rewrite the following sentence", "You are ChatGPT, a large
// language model"). In a long text the rest of the template carries the
// evidence; a text of a few words has nothing else. So a text of fewer
// than shortAttackWords words reaches an attack head's flag point only when
// it says what such an attack says: for a jailbreak a limit-lifting cue
// (limitCues, the gate system messages have at every length), for an
// injection an injection cue (injectionCues). The rules are not gated: a
// short "ignore previous instructions" is caught by them whatever the
// models say.
const shortAttackWords = 32

// shortAttackCap is the highest attack score of a short text without a cue:
// below the default flag point.
const shortAttackCap = limitlessCap

// injectionCues are what an injection says: it overrides or replaces
// instructions, points at the prompt or what came before, asks for a
// secret, or dictates the output ("say", "print", "respond with"). Written
// from what injections do (OWASP LLM01, the threat model's probes);
// found in the normalised text where a word starts (cueSet.in: "say " is not
// in "essay ", "print" not in "sprint"). A secret is asked for, not made:
// "the password", "access code", not "generate a password" (the first list
// had the bare words "password", "access", "key", "output", "instruction",
// "prompt", "system" and "rules", and ordinary requests to create a password,
// output a phrase, give cooking instructions or write a story "with the
// prompt" met them; it was narrowed after looking at validation texts).
// "repeat" and "print" are what an extraction asks of the prompt ("repeat
// the above", "print your instructions", "print everything"), not "please
// repeat that", which a voice assistant hears all day, or "write a Python
// program to print the primes below 100", which a coding assistant does.
var injectionCues = []string{
	"ignore", "disregard", "forget", "instead", "override", "new instruction", "from now on", "you are now",
	"pretend", "act as", "roleplay", "role play",
	"previous", "above", "prior", "earlier", "preceding", "before this", "your instruction", "the instruction",
	"these instruction", "my instruction", "original instruction", "real instruction", "initial instruction",
	"system instruction", "your prompt", "system prompt", "initial prompt", "original prompt", "pre-prompt",
	"preprompt", "your rules", "the rules", "new rules", "system message", "system:", "developer", "admin",
	"sudo", "context window",
	"the password", "your password", "his password", "her password", "their password", "my password",
	"password is", "correct password", "passcode", "passphrase", "pass phrase", "grants access", "grant access",
	"access code", "access granted", "granted access", "access denied", "secret", "confidential", "hidden",
	"reveal", "the key", "api key",
	"say ", "print the above", "print your", "print everything", "print all previous", "print the prompt",
	"print the instruction", "print the system", "print the password", "print the secret", "print the first",
	"print the text above", "print the words above", "print out your", "print out the above",
	"print out everything", "print verbatim", "print the exact", "print exactly", "print all", "repeat the", "repeat your", "repeat everything", "repeat all", "repeat after",
	"repeat back", "repeat what", "repeat verbatim", "repeat word", "repeat each", "repeat every",
	"repeat above", "repeat my", "repeat this:", "output only", "only output", "output the", "output your", "verbatim", "reply with", "respond with", "answer with", "begin your",
	"start your", "only say", "only respond", "granted", "denied",
	"<|", "[inst", "###", "end of", "stop",
}

// injectionCueSet finds injectionCues: what an injection says.
var injectionCueSet = newCueSet(injectionCues)

// AttackHeadsOpen reports whether a user-class text can reach the flag
// point of the jailbreak and of the prompt-injection head: false for a
// short text without the head's cue (see shortAttackWords). For
// measurements and tests; the training command calibrates on every text
// (see calibrate in internal/guard/train).
func AttackHeadsOpen(text string) (jailbreak, injection bool) {
	if len(text) > MaxTextBytes {
		text = text[:MaxTextBytes]
	}
	b := textnorm.Normalize(nil, text)
	if countWords(b, shortAttackWords) >= shortAttackWords {
		return true, true
	}
	return liftsLimits(b, false), injectionCueSet.in(b)
}
