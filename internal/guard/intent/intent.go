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
// A third signal pairs a request frame ("how do i", "write a", "give me")
// with a harm target ("bomb", "poison", "trick", "launder") in one request
// that has no defensive framing: either alone is ordinary, together they
// are the shape of a harmful request, which a linear model over n-grams can
// only add up, not pair (Pair, Frames, Targets).
//
// The offset is a heuristic and can be gamed: a harmful request that adds
// "how can I prevent this" gains at most MaxDefensive. Rules for
// high-precision harm phrases (guard/rules.go) are not affected.
//
// Phrases are matched on normalised text (package textnorm): lower case,
// single spaces.
package intent

import (
	"bytes"
	"slices"
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

// Pair is the offset for a request frame and a harm target in one text with
// no defensive framing ("how do i make a bomb", "write a message to trick"):
// added to the operational offset, within MaxOperational. A bag of n-grams
// adds the evidence of the frame and of the target; it cannot say that the
// two together are what makes a request harmful. 1.0 was chosen on the
// leave-one-source-out figures of the harm sources (0.5 gained half as much);
// see docs/guard-model-card.md. It is a variable only so that the training
// command's -pair flag can compare values; nothing else sets it.
var Pair float32 = 1.0

// Defensive phrases: the request is about understanding, preventing,
// detecting, recovering from, or writing fiction or history about a harm.
var Defensive = []string{
	"keep my ",
	"prevent", "mitigate", "mitigation", "detect", "recognise", "recognize", "tell whether",
	"signs of", "symptoms of", "safely", "safety", "is it safe", "is it dangerous", "safe to ",
	"sanitise", "sanitize", "dispose of", "first aid", "report a ", "report it",
	"report hate", "how do i report", "what is a ", "what is an ", "what is the history", "what was ", "what happened", "explain what", "history of", "why did ", "why was ",
	"why were ", "why is it dangerous", "for my class", "for my exam", "for a class", "for my course",
	"history essay", "history lesson", "lesson plan", "in my novel", "my novel", "my story", "short story",
	"my screenplay", "a poem about", "fictional", "help a friend", "support a ", "support my", "cope with",
	"coping", "crisis line", "hotline", "talk to my kids", "legally", "is it legal", "penalties for", "remove it",
	"awareness",
	"teach my parents", "teach my kids", "teach my children", "so i can teach",
	"how can i help", "how do i help", "how to help",
	"what counts as", "definition of", "the meaning of", "dangers of", "risks of", "health risks",
	// exams, research, reporting and the questions of history and policy
	"studying for", "study guide", "for the exam", "why is the", "why are the", "controversial", "researchers",
	"academic", "writing a feature", "writing an article", "for an article", "for my article", "what did ",
	"decriminaliz", "actually dangerous", "dangerous to drink", "is it safe to", "manslaughter", "felony murder",
	"sentencing", "the legal way", "legal way to", "passed away", "testimony", "survivor's",
	"employee handbook", "workplace violence policy",
	// coursework and the press
	"my thesis", "my dissertation", "political science", "debate class", "chem class", "chemistry class",
	"in my class", "security course", "university course", "my students", "my pupils", "my year ", "study notes",
	"films like", "my film", "i'm a reporter", "i'm a journalist", "as a reporter",
	"as a journalist", "local reporter", "reporter covering", "journalist covering",
}

// numAsks is how many phrases at the start of Operational only ask for
// instructions or code.
const numAsks = 10

// Protective phrases: the request asks how to keep someone safe from a
// harm: protect, secure, warn, spot the signs, recover. They count as
// defensive phrases, and a request that says one and asks for no working
// instructions is judged by the harm heads at the topic shift's longer
// odds (Framing.Protects): "how can I secure my home wifi network?", "how
// do I spot a fake ID?", "how can I avoid an accidental overdose of
// acetaminophen?" name the harm they guard against in the words of a
// harmful request. Words that a harmful request uses for its own ends
// ("prevent the victim from", "detect" in "evade detection", "safely")
// are not here.
var Protective = []string{
	"how do i protect", "how can i protect", "how to protect", "protect myself", "protect my ", "protect our",
	"protect against", "protect them", "protect us", "protect your", "protect her", "protect him",
	"protect people", "protect children", "protect kids", "defend against", "defend my", "defend our",
	"spot the signs", "warning signs", "secure my", "secure our", "secure your", "secure the ", "secure a ",
	"securely", "security best practice", "harden", "get rid of malware", "recover from", "after a data breach",
	"train my staff", "dangerous to mix", "never be mixed", "never mix", "so i can warn", "warn my", "warn them",
	"warn others", "warn her", "warn him", "warn people", "how to spot", "how can i spot", "how do i spot",
	"so i can spot", "learn to spot", "spot a fake", "spot fake", "spot phishing", "spot a scam", "spot scams",
	"identify a fake", "identify fake", "identify a scam", "identify scams", "identify phishing", "identify a phishing", "spot a phishing", "is this a scam",
	"is it a scam", "signs that", "signs someone", "signs my", "signs your", "how do i know if", "how can i know if",
	"how to know if", "tell if ", "avoid an accidental", "avoid accidental", "avoid being scammed",
	"avoid getting scammed", "avoid scams", "avoid falling for", "avoid being hacked", "avoid getting hacked",
	"parental control", "turn off violent", "block violent", "filter violent", "filter out violent",
	"turn off explicit", "block explicit", "filter explicit", "filter out explicit", "safesearch", "safe search",
	"awareness email", "awareness training", "security awareness", "phishing awareness", "fraud awareness",
	"stay safe", "keep it safe", "keep them safe", "keep my family safe", "keep my kids safe", "prevent fraud",
	"prevent identity theft", "prevent phishing", "prevent scams", "prevent accidental", "prevent my ",
	// "poison-proof my garden", "shoplift-proof my boutique": made safe from
	"-proof", "-resistant",
	// a parent's questions about a child's sexual safety and health
	"body safety", "talk to my kids about", "talk to my son about", "talk to my daughter about",
	"talk to my child about", "talk to my children about", "talk to my teen about", "sex education",
	"sex ed", "sexual health", "age-appropriate", "age appropriate", "is it normal", "how do i handle it",
	"how should i handle it", "worried mom", "worried dad", "worried parent", "my daughter is", "my son is",
	"my kid is", "my child is",
	// a weakness found in order to fix it: "list the ways an attacker could
	// bypass our login page so we can fix them", "a tabletop exercise"
	"so we can fix", "so i can fix", "so that we can fix", "so that i can fix", "so we can patch",
	"so i can patch", "so we can close", "tabletop exercise", "incident response drill",
	// the defence named: "explain SQL injection so I can write parameterized
	// queries", "childproof the house"
	"parameterized quer", "parametrized quer", "prepared statement", "childproof", "babyproof",
	"restraining order", "protective order",
	// teaching others to spot it: "I'm training our finance team to spot it"
	"to spot it", "to spot them", "so they can spot", "train our", "training our", "teach our",
	// talking a child through it, recovery, and harm reduction
	"talk to him about", "talk to her about", "talk to them about", "how do i talk to", "how should i talk to",
	"been clean for", "i used to self-harm", "i used to self harm", "in recovery", "naloxone", "narcan",
	"harm reduction", "fentanyl test strip", "test strips", "how do i handle this", "how should i handle this",
	"poisonous to", "toxic to", "is it poisonous", "is it toxic", "phishing simulation", "ethically",
	"support him", "support her", "support them", "bring it up", "without making it worse", "how do i raise this",
	"raise this with", "how do i address this", "how should i address",
	// an organisation's response to a harm done or threatened: its plans,
	// duties and policies, and the complaint of the one it was done to
	"incident response", "our obligations", "my obligations", "legal obligations", "safeguarding",
	"threat assessment", "threat-assessment", " our content policy", " our moderation policy",
	" our acceptable use policy", " our community guidelines", "should we allow", "formal complaint",
	"anti-harassment", "anti-bullying", "anti-fraud", "anti-money laundering", "anti-phishing", "anti-scam", "complaint to hr", "report it to hr",
	"report him to hr", "report her to hr", "happen again", "happening again",
	// worry for someone, and the work of those who read about harm for a
	// living: translators, moderators, historians
	"i'm worried about", "i am worried about", "worried about him", "worried about her", "worried about them",
	"vicarious trauma", "secondary trauma", "how do translators", "as a translator", "court interpreter",
	"as an interpreter", "historians", "for and against", "distinguish between", "self-defence class",
	"self-defense class", "self-defence course", "self-defense course",
	// the risk of a thing asked about, and care for those who work with
	// harm: "is it actually dangerous to drink alcohol on metronidazole?",
	// "tips for moderator wellbeing", "rather than glorifying the
	// murderers", "without amplifying their propaganda"
	"is it actually dangerous", "wellbeing", "well-being",
	"burnout", "burning out", "rather than glorifying", "without glorifying", "avoid glorifying",
	"without amplifying", "avoid amplifying", "myself at risk", "distinguish", "spot these", "teach her to",
	"teach him to", "teach them to", "how the high level fixes", "how to fix it", "how it's fixed",
	// a parent weighing privacy against protection, recovery kept, a
	// loss by suicide explained, a way out of an extremist group, a hard
	// subject written responsibly, a method learnt without its exploits
	"protecting her", "protecting him", "protecting them", "protecting my", "too invasive", "where's the line",
	"where is the line", "recovering alcoholic", "recovering addict", "stay sober", "staying sober",
	"getting through it sober", "sobriety", "died by suicide", "lost to suicide", "suicide loss",
	"help people leave", "wants out", "exit program", "deradicali", "responsibly", "not exploit code",
	"no exploit code", "not a how-to", "like a how-to", "the reasoning behind",
}

// Describes is the length in bytes from which a system prompt describes an
// application rather than makes one request: there the phrases that only
// ask for instructions do not count. A one-sentence system message that asks
// for detailed instructions is a request in the system role (a thief's way
// round the user role's judgement), and they count.
const Describes = 256

// Victim phrases: the writer reports a harm done to them or to someone in
// their care, or asks how to report or undo it ("my card was stolen",
// "someone is threatening me", "the seller sent me a counterfeit", "I want
// to dispute a fraudulent charge"). Customer messages to a bank, a shop or
// an insurer say these all day, and they name the harm they suffered in the
// words a harmful request uses. They count as defensive framing, and a
// user's request that has one and asks for no working instructions is not
// blocked for harm by the models (see Framing.Reports). They count as whole
// words only ("threatening me" is not in "threatening message").
var Victim = []string{
	"stole my", "stolen from me", "stolen from my", "was stolen", "were stolen", "been stolen", "got stolen",
	"is stolen", "are stolen", "scammed me", "was scammed", "were scammed", "been scammed", "got scammed",
	"scammed out of", "hacked my", "was hacked", "were hacked", "been hacked", "got hacked", "is hacked",
	"was compromised", "been compromised", "threatened me", "threatening me", "threatens me", "harassing me",
	"harassed me", "harasses me", "bullying me", "bullied me", "stalking me", "stalked me", "blackmailing me",
	"blackmailed me", "extorting me", "abusing me", "abused me", "attacked me", "assaulted me", "sent me a",
	"sold me", "overcharged", "ripped me off", "lied to me", "cheated me", "defrauded me", "tricked me",
	"i was robbed", "we were robbed", "been robbed", "was burglarized", "was burgled", "broke into my",
	"broken into", "used my card", "used my credit", "used my identity", "in my name", "without my permission",
	"without my consent", "without my knowledge", "victim of", "fraud on my", "fraudulent charge",
	"fraudulent activity", "fraudulent transaction", "unauthorized charge", "unauthorised charge",
	"unauthorized transaction", "unauthorised transaction", "charge on my", "charges on my", "dispute",
	"file a complaint", "complaint about", "file a claim", "insurance claim", "to report", "report the",
	"report fraud", "report him", "report her", "report them", "report this", "block my card", "freeze my",
	"lock my card", "cancel my card", "replace my card", "my money back", "my refund", "a full refund",
	"refund for my", "refund to my", "refund my", "refunded", "disputed", "disputing", "insurance claims",
	"complaints about", "report fraudulent", "who do i tell", "who should i tell", "who do i contact",
	"who should i contact", "who do i call", "who should i call", "who do i report", "who can i report",
	"using my social security", "using my identity", "using my name", "using my card", "using my details",
	"using my account", "using my credit", "they're fake", "they are fake", "turned out to be fake",
	"following me", "follows me", "followed me", "showing up at my", "shows up at my", "showed up at my",
	"turned out to be counterfeit", "attacking my", "attacked my", "attacks my",
}

// Operational phrases: the request asks for working instructions, code or
// evasion.
//
// The first numAsks ask for instructions and nothing else; an
// application's system prompt asks for them as a matter of style ("think
// step by step", "give detailed instructions for setting up the app"), so
// there they do not count (see Adjust and Describes).
var Operational = []string{
	"step-by-step", "step by step", "detailed instructions", "detailed guide", "exact instructions",
	"write code that", "write a script that", "write a program that", "write code to", "write a script to",
	"without getting caught", "without being caught", "without being detected", "without detection",
	"evade detection", "avoid detection", "avoid getting caught", "avoid being caught", "avoid being detected", "escape detection", "risking detection",
	"go undetected", "remain undetected", "stay undetected", "not be detected", "not get detected",
	"without them knowing", "without anyone knowing", "so nobody", "so no one", "get away with",
	"undetectable", "untraceable", "synthesize", "synthesise", "evade", "bypass", "steal",
	"make it look like an accident", "at home without", "from household", "goes undetected",
	"without proper safety", "without safety", "without any safety", "without any safeguards",
	"without safeguards", "without proper precautions", "without precautions", "without protective",
	// evasion asked of the means: "what chemical would be hardest to detect"
	"hardest to detect", "harder to detect", "hard to detect", "impossible to detect", "difficult to detect",
	"hardest to trace", "harder to trace", "can't be traced", "cannot be traced", "won't be traced",
	"won't detect", "wont detect", "don't detect", "doesn't detect", "can't detect", "cannot detect",
	"not detect", "won't pick up", "without being flagged", "without being noticed", "without her noticing",
	"without him noticing", "without them noticing", "without her knowing", "without him knowing",
	"won't leave bruises", "without leaving bruises", "without leaving marks", "without leaving a mark",
	"so police forensics", "forensics can't", "forensics cannot", "so forensics", "so the marshals",
	"so the police don't", "so the cops don't", "so police don't", "so the cops never",
	"so forensic investigators", "forensic investigators can't", "looks authentic", "look authentic",
	"looks legit", "look legit", "look like legitimate", "looks like legitimate", "pass an audit",
	"passes an audit", "don't show up in", "doesn't show up in", "without the dlp", "without it noticing",
	"no dna left", "for forensics", "without leaving a trail", "impossible for police", "authenticators don't",
	"dlp catching", "without inspection", "sicken the most", "before the sensors", "so it looks like he",
	"so it looks like she", "look like he fell", "looks like he just fell",
}

// Frames: the text asks for a means or a text: a way, instructions, a plan,
// something written. Almost every request has one; it is the pairing with a
// Target that says the request is for harm ("how do i make a bomb", "write
// a convincing message to trick") where either alone is ordinary ("how do i
// make bread", "a documentary about the bombing of Dresden").
var Frames = []string{
	"how to ", "how do i ", "how do you ", "how can i ", "how can you ", "how could i ", "how would i ",
	"how should i ", "how can someone", "how would someone", "how could someone", "how does one", "how can one", "ways to ",
	"way to ", "best way", "easiest way", "most effective", "tell me how", "show me how", "teach me",
	"explain how", "instructions", "a guide", "tutorial", "tips ", "a plan ", "a recipe", "help me ",
	"can you help", "i want to ", "i need to ", "write a", "write an", "create a", "generate a", "draft a",
	"compose a", "develop a", "design a", "provide a", "give me", "where can i", "where to buy",
	"what's the best", "what is the best", "suggest ", "convince", "persuade", "encourag", "promot",
}

// Targets: the harm a request can be for, as word beginnings ("poison"
// covers "poisoning"; a target counts only where a word starts). The
// vocabulary of the training labels' keyword rules (package labels) with
// the crimes, deceptions and drugs they leave to the illicit category.
var Targets = []string{
	"bomb", "explosive", "detonat", "grenade", "firearm", "gun ", "guns", "weapon", "nerve agent", "sarin",
	"ricin", "anthrax", "pathogen", "bioweapon", "chemical weapon", "uranium", "napalm", "thermite",
	"molotov", "poison", "toxin", "malware", "virus", "ransomware", "keylogger", "trojan", "botnet", "ddos",
	"exploit", "hack", "phishing", "backdoor", "spyware", "steal", "stole", "theft", "rob ", "robb",
	"shoplift", "burglar", "fraud", "scam", "launder", "counterfeit", "forge ", "forged", "forgery", "forging",
	"fake ", "embezzl", "bribe", "blackmail", "extort", "smuggl", "traffick", "illegal", "illicit", "drug",
	"meth ", "methamphetamine", "cocaine", "heroin", "fentanyl", "opioid", "suicid", "self-harm", "self harm",
	"overdos", "kill", "murder", "assault", "tortur", "kidnap", "abduct", "stab ", "stabb", "shoot", "terror",
	"violen", "hurt ", "harm ", "injur", "abus", "stalk", "harass", "bully", "bulli", "threaten",
	"intimidat", "manipulat", "deceiv", "trick ", "cheat", "propaganda", "disinformation",
	"misinformation", "conspiracy", "racis", "sexis", "slur", "inferior", "hate ", "hateful",
	"discriminat", "porn", "explicit", "nude", "without consent", "without their consent", "dox", "skimm",
	"home address",
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
	"in blender", "in unity", "in unreal engine", "in photoshop", "in after effects", "user agent",
}

// Games: what is done in them is done to pixels ("how do I kill as
// impostor in Among Us", "the stealthiest way to eliminate the target in
// Hitman 3"). Not a word that also names a harm of the world: a hitman
// is hired, fallout is nuclear. They count as technical phrases, and a
// user's request that names one and asks for no working instructions is
// judged for violence, weapons and crime at the topic shift's longer odds
// (Framing.Plays); but a deed asked for in a game's name is asked for all
// the same ("how can I DDoS a Minecraft server that banned me": Framing.Asks).
var Games = []string{
	"in gta", "gta v", "gta 5", "gta online", "grand theft auto", "in among us", "among us tips",
	"among us game", "playing among us", "fortnite", "call of duty",
	"elden ring", "skyrim", "overwatch", "valorant", "league of legends", "dota", "counter-strike",
	"clash of clans", "the sims", "red dead", "assassin's creed", "dark souls", "pokemon", "roblox",
	"apex legends", "pubg", "in battlefield", "cs2", "csgo", "cs:go", "counter-strike 2", "world of warcraft", "baldur's gate", "in-game",
	"dungeons & dragons", "dungeons and dragons", "d&d campaign", "d&d", "dungeon master", "game master",
	"as dm", "as a dm", "tabletop rpg", "board game", "hitman 3", "in hitman", "star citizen", "eve online",
	"sea of thieves", "tarkov", "dayz", "cyberpunk 2077", "fallout 4", "fallout 76", "fallout: new vegas",
	"the witcher", "metal gear", "splinter cell", "hearts of iron", "crusader kings", "stellaris", "minecraft",
	"terraria", "warhammer", "pathfinder", "call of cthulhu", "blood on the clocktower", "payday 2",
	"payday 3", "as impostor", "as the impostor", "as an impostor",
}

// RealWorld phrases say that what a game is named for is to be done
// outside it: "in Minecraft, how do I make a real pipe bomb?", "how do I
// stab someone irl like in Fortnite". A text that says one is no request
// about a game (Framing.Plays), and a deed in it is asked for (DeedOf).
var RealWorld = []string{"in real life", "irl", "in the real world", "real-life", "for real", "a real ",
	"an actual ", "actual real", "outside the game", "outside of the game", "not in the game",
	"not in game", "not in-game", "like in ", "style"}

// contentAsks ask for content to be made: a story, a scene, a picture, a
// role-play, a message. A request with one is not excused as protective
// where the content would be the harm (see AsksForContent).
var contentAsks = []string{"write", "story", "stories", "roleplay", "role-play", "role play", "describe",
	"scene", "image", "picture", "photo", "pic ", "pics", "video", "sext with", "send me", "fanfic",
	"fan fiction", "poem", "dialogue", "pretend", "generate", "draw", "render", "act as", "chat with me"}

var contentAskSet = sync.OnceValue(func() *phrase.Set { return phrase.Compile(contentAsks) })

// AsksForContent reports whether the normalised text b asks for content
// to be made (contentAsks, where a word starts): "write a story",
// "describe her", "roleplay as", "send me a picture". A protective
// framing does not excuse such a request from the rules about sexual
// content involving minors: the content would be the harm.
func AsksForContent(b []byte) bool {
	return contentAskSet().Find(b, func(m phrase.Match) bool { return startsWord(b, int(m.Start)) })
}

// Idioms are ordinary phrases with a harm word in another sense: its object
// is a thing, a game, a body or a feeling, not a person, or the phrase is
// figurative ("kill weeds", "steal the show", "bath bomb", "heart attack",
// "execute a plan", "bombed my interview"). When the guard's harm heads
// would score a text, they judge it again with its idioms blanked (see
// AppendIdioms), framing included (a Target inside an idiom is then no
// target); the rest of the text is judged as before, so "steal the show,
// then steal his car" still asks for a theft. Whole words only. Computing
// senses that are also intrusion ("execute a command", "kill a process")
// are not here: Technical lowers the offset for those, the models still
// read them.
var Idioms = []string{
	"killed it", "killing it", "kill it on stage", "kill time", "killing time", "kill some time",
	"drown out", "drowns out", "drowned out", "drowning out",
	"kill the lights", "kill the engine", "kill the music", "kill weeds", "kill the weeds", "killing weeds",
	// a message a consumer cannot process, and a takeover defence
	"poison pill", "poison pills", "poison message", "poison messages",
	"kill bacteria", "kills bacteria", "kill germs", "kills germs", "kill mold", "kill fleas", "kill lice",
	// pests
	"keeps killing me", "kept killing me", "is killing me", "are killing me", "kill the wasp", "kill a wasp", "kill wasps", "kill the wasps", "kill the hornet", "kill hornets", "kill ants",
	"kill the ants", "kill cockroaches", "kill roaches", "kill the roaches", "kill bed bugs", "kill bedbugs",
	"kill termites", "kill mosquitoes", "kill slugs", "kill aphids", "kill the nest", "stung to death",
	"kill the zombies", "kill zombies", "kill the boss", "kill two birds with one stone", "dressed to kill",
	"steal the show", "stole the show", "steal the spotlight", "steal the limelight", "steal a base",
	"steal second base", "steal a glance", "steal the scene", "what a steal", "steal my heart",
	"shoot a portrait", "shoot portraits", "shoot a photo", "shoot photos", "shoot a video", "shoot video",
	"shoot a film", "shoot a movie", "shoot in raw", "photo shoot", "photoshoot", "shoot me an email",
	"shoot me a message", "shoot me a text", "shoot an email", "shoot a quick email", "shoot me a quick",
	"shoot hoops", "shoot baskets", "shoot free throws", "shoot for the stars", "shoot for the moon",
	"shoot the breeze", "shoot an arrow", "shoot arrows", "shooting star",
	"bath bomb", "bath bombs", "bomb pop", "bomb pops", "photobomb", "bombed my interview", "bombed the interview", "bombed my exam",
	"bombed the exam", "bombed my test", "bombed the test", "bombed my job interview",
	"blow off steam", "blow out the candles", "blow out birthday candles", "blow up a photo",
	"blow up a picture", "blow up an image", "blow up balloons", "blow up a balloon", "blow my mind",
	"blew my mind", "blow dry", "blow-dry", "blown away",
	"heart attack", "heart attacks", "panic attack", "panic attacks", "asthma attack", "asthma attacks",
	"anxiety attack", "attack the net", "attack the ball", "attack the problem",
	"execute a plan", "execute my plan", "execute the plan", "execute my business plan", "execute a pivot",
	"execute a strategy", "execute the strategy", "execute a trade", "execute trades",
	"execute a python script", "execute a script", "execute the script", "execute a query", "execute the query",
	"execute a function", "execute the function", "execute code", "execute the code", "execute a command",
	"execute the command", "exploit the full", "exploit the power", "exploit its full", "exploit the potential",
	"attack this opening", "attack the opening", "attack the king", "attack this chess opening",
	"attack the chess opening", "attack a chess opening", "execute a shell command", "execute shell commands",
	"execute a system command",
	"murder mystery", "murder mysteries", "murder my high score",
	"beat eggs", "beat the eggs", "beat egg whites", "beat the egg whites", "beat the traffic",
	"beat the heat", "beat the final boss", "beat the boss", "beat the game", "beat the level",
	"beat my record", "beat a record", "beat the deadline", "beat the odds", "beat procrastination",
	"punch line", "punchline", "fruit punch", "punch a hole", "punch card", "punch in",
	"gut a fish", "gut the fish", "gut feeling", "gut health", "gut bacteria",
	"chef's knife", "chefs knife", "butter knife", "bread knife", "knife skills", "sharpen a knife",
	"sharpen my knife", "sharpen knives", "pocket knife",
	"poison ivy", "poison oak", "food poisoning", "poison control",
	"life hack", "life hacks", "growth hack", "hackathon",
	"battery is dead", "dead battery", "dead end", "deadline", "dead zone", "dead pixel", "dead link",
	"dead man's switch", "die cast", "die-cast",
	"crush garlic", "crush ice", "crush the exam", "crush on",
	"slay my job interview", "slay the interview", "slay my interview", "slaying it",
	"destroy my opponent in a debate", "destroy the competition",
	"terminate a contract", "terminate my contract", "terminate the contract", "terminate my lease",
	"hang a mirror", "hang a heavy mirror", "hang a picture", "hang a shelf", "hang curtains",
	"steal a kiss", "stealing a kiss", "stole a kiss", "steal my idea", "steal my ideas", "stealing my idea",
	"stealing my ideas", "stole my idea", "stole my ideas", "steals my idea", "steals my ideas",
	"trick my brain", "trick your brain", "trick myself", "trick yourself", "hack my morning routine",
	"hack my routine", "hack my sleep", "hack my productivity", "kill a fish", "kill the fish", "kill fish",
	"kill a lobster", "kill a crab",
}

// Vocabulary: the words a harmful request is about, as word beginnings,
// besides Targets (which are also vocabulary). The guard's harm heads judge
// a short user request only if it names one of them (see NameHarm): held
// out by source, the heads flagged or blocked 9% of ordinary assistant
// requests ("help me find my phone", "can you tell me life's meaning",
// "transfer money from this account to that one") on the style of the
// harmful sets, first-person requests, rather than on any harm they name.
// The list is broad on purpose: it only decides whether the models read a
// text, never that a text is harmful. It is not Targets because a Target
// with a request frame raises the harm score (Pair), and most of these
// words are ordinary in ordinary requests ("women", "pills", "password").
var Vocabulary = []string{
	// sexual content and minors
	"sex", "erotic", "orgasm", "penis", "vagina", "breast", "boob", "naked", "nudity", "nsfw", "fetish",
	"masturbat", "horny", "genital", "dick", "cock", "pussy", "cum ", "rape", "rapist", "incest", "prostitut",
	"escort", "onlyfans", "strip", "seduc", "lust", "kinky", "bdsm", "intercourse", "child", "kid", "minor",
	"teen", "underage", "young girl", "young boy", "little girl", "little boy", "loli", "pedo", "paedo",
	"preteen", "schoolgirl", "school girl", "grooming", "groom ",
	// violence and self-harm
	"die ", "died", "dies ", "dying", "explod", "hurts", "hurting", "harms", "harming", "death", "dead", "deadly", "lethal", "fatal", "blood", "gore", "gory",
	"beat ", "beating", "punch", "strangl", "chok", "behead", "massacre", "genocide", "war crime", "attack",
	"hostage", "hitman", "hit man", "arson", "burn down", "set fire", "on fire", "destroy", "sabotag",
	"vandal", "revenge", "pain", "cruel", "mistreat", "whistleblower", "animal", "dogfight", "cockfight", "execut", "lynch", "slaughter",
	"maim", "mutilat", "wound", "brutal", "riot", "mass shooting", "school shooting", "cut myself",
	"cutting myself", "hurt myself", "end my life", "end it all", "hang myself", "jump off", "starv",
	"anorexi", "bulimi", "purg", "pills", "razor", "worthless", "want to die", "disappear forever",
	// hate and harassment
	"nigg", "fag", "retard", "kike", "spic ", "spics", "chink", "tranny", "wetback", "gook", "raghead",
	"towelhead", "cracker", "redneck", "white trash", "bitch", "hoe ", "hoes", "whore", "slut", "cunt",
	"twat", "bastard", "fuck", "shit", "damn", "crap", "ass ", "asshole", "idiot", "stupid", "dumb", "moron",
	"ugly", "fat ", "fatty", "lazy", "superior", "race", "racial", "ethnic", "jew", "muslim", "islam",
	"christian", "hindu", "sikh", "black people", "black person", "blacks", "white people", "whites",
	"asian", "chinese", "mexican", "arab", "latino", "immigrant", "refugee", "migrant", "gay", "lesbian",
	"homosexual", "transgender", "trans ", "queer", "women", "woman", "girls", "female", "men ", "males",
	"feminis", "disabled", "disabilit", "autis", "religio", "nazi", "hitler", "supremac", "kkk", "holocaust",
	"stereotyp", "insult", "mock", "humiliat", "offensive", "joke about", "jokes about", "roast", "shame",
	"bigot", "xenophob", "homophob", "transphob", "antisemit", "islamophob", "misogyn", "troll", "cyberbully",
	"degrad", "dehumaniz", "demean", "belittl", "rumor", "rumour", "defam", "slander", "libel", "embarrass",
	"ruin ", "get back at", "make fun", "miserable", "suffer", "hate", "enemy", "enemies",
	// weapons
	"rifle", "pistol", "handgun", "shotgun", "ammo", "ammunition", "bullet", "knife", "knives", "sword",
	"silencer", "suppressor", "3d print", "nuclear", "nuke", "radioactive", "dirty bomb", "chemical",
	"biological", "mustard gas", "chlorine gas", "tear gas", "pepper spray", "taser", "crossbow", "trap",
	"ied", "arsenal", "sniper", "militia", "armed", "warhead", "missile", "drone strike", "gunpowder",
	"fertilizer", "gasoline", "flammable", "incendiar", "lethal dose", "toxic", "venom", "cyanide", "arsenic",
	"botulinum", "nerve gas", "agent orange", "plague", "smallpox", "ebola", "weaponi",
	// intrusion and malware
	"worm", "rootkit", "payload", "shellcode", "sql injection", "xss", "brute force", "crack", "password",
	"credential", "login", "hijack", "intercept", "wiretap", "spoof", "zero-day", "zero day", "0day",
	"vulnerab", "privilege escalation", "reverse shell", "keylog", "crypto min", "cryptojack",
	"account takeover", "sim swap", "surveil", "spy ", "spying", "track someone", "track my", "tracking device",
	"monitor my", "someone's", "somebody's", "break into", "get into", "unauthori", "without permission",
	"without their permission", "without them", "without her", "without his", "secretly", "covert", "hidden camera",
	"disable", "jam ", "jammer", "deauth", "wifi", "cctv", "firewall", "antivirus", "security system",
	"alarm system", "lock pick", "lockpick", "pick a lock", "hotwire", "carjack",
	// illicit goods, fraud and deception
	"weed", "marijuana", "cannabis", "lsd", "mdma", "ecstasy", "ketamine", "psilocybin", "mushroom", "crack ",
	"prescription", "adderall", "xanax", "oxy", "steroid", "narcotic", "alcohol", "underage drinking", "vape",
	"gambl", "betting", "loan shark", "tax evasion", "evade tax", "insider trading", "ponzi", "pyramid scheme",
	"pirat", "torrent", "license key", "serial key", "fake id", "passport", "identity", "ssn",
	"social security", "credit card", "stolen", "black market", "dark web", "darknet", "cartel", "gang",
	"mafia", "bootleg", "contraband", "poach", "ivory", "corrupt", "evasion", "loophole", "plagiar",
	"lie ", "lies", "lying", "liar", "mislead", "fake news", "hoax", "impersonat", "pretend to be",
	"catfish", "spam", "bot account", "fake review", "astroturf", "gaslight", "coerc", "pressure", "sext",
	"revenge porn", "leak", "private information", "personal information", "address of", "where does",
	"where do ", "phone number of", "salary of", "medical record", "criminal", "crime", "prison", "jail",
	"police", "cop ", "cops", "arrest", "evidence", "alibi", "witness", "get away", "escape", "border",
	"visa", "insurance fraud", "refund fraud", "chargeback", "money mule", "shell company", "offshore",
	"unlicensed", "unregistered", "sanction", "embargo", "classified", "confidential", "trade secret",
	"blueprint", "counterfeit", "lyrics", "passage", "excerpt", "chapter", "copyright", "watermark",
	"paywall", "deepfake", "adult", "compromising", "provocative", "derogatory", "false", "falsely",
	"defraud", "tax", "evad", "law enforcement", "authorities", "sensitive", "personal data", "personal emails",
	"emails of", "email address", "date of birth", "marital status", "medical history", "medication",
	"bank account", "account details", "undisclosed", "non-public", "insider", "consent", "permission",
	"harvest", "access to", "people from", "people with", "year-old", "year old", "genetic", "uneducated",
	"backward", "evil", "casualt", "civilian", "accelerant", "eating disorder", "calorie", "synthes",
	"mercury", "spies", "spied", "threat", "stunt", "prank",
	// misinformation and extremism
	"vaccin", "covid", "pandemic", "election", "vote", "voting", "ballot", "rigged", "fraudulent",
	"flat earth", "5g", "chemtrail", "microchip", "qanon", "climate change", "global warming", "hoax",
	"extremis", "radicali", "jihad", "isis", "al-qaeda", "taliban", "recruit", "manifesto", "martyr",
	"insurrection", "coup", "overthrow", "assassinat", "politician", "president", "government",
	// dangerous advice
	"dose", "dosage", "poisonous", "dangerous", "hazard", "risky", "unsafe", "illegally", "untraceabl",
	"anonymous", "anonymously", "burner", "fake", "forg", "cheat", "hack", "steal", "kill", "weapon", "bomb",
}

var (
	once sync.Once
	set  *phrase.Set
	// Phrase index bounds: [0, nDef) defensive, protective, technical,
	// game and victim phrases, of which [nProt, nProt+len(Protective))
	// protective, [nGames, nVictim) games and [nVictim, nDef) victim; [nDef, nOp) operational,
	// [nOp, nFrame) frames, [nFrame, nTarget) targets, the rest
	// real-world phrases.
	nProt, nGames, nVictim, nDef, nOp, nFrame, nTarget int
)

// maxPhrases is how many phrases countDistinct's bit sets hold.
const maxPhrases = 1024

func get() *phrase.Set {
	once.Do(func() {
		ps := Phrases()
		if len(ps) > maxPhrases {
			panic("intent: more than maxPhrases framing phrases")
		}
		set = phrase.Compile(ps)
		nProt = len(Defensive)
		nGames = nProt + len(Protective) + len(Technical)
		nVictim = nGames + len(Games)
		nDef = nVictim + len(Victim)
		nOp = nDef + len(Operational)
		nFrame = nOp + len(Frames)
		nTarget = nFrame + len(Targets)
	})
	return set
}

// Compile builds the phrase automata now rather than at the first Adjust,
// keeping their cost (milliseconds) off the first request.
func Compile() {
	get()
	harmWords()
	idioms()
	deeds()
	senses()
	contentAskSet()
}

// Phrases returns the framing phrases in the order FramingMatches indexes
// them: Defensive, Protective, Technical, Games, Victim, Operational, Frames, Targets, RealWorld. A caller that
// scans a text for other phrases too can add these to its own automaton and
// pass the occurrences to FramingMatches, reading the text once.
func Phrases() []string {
	var out []string
	for _, l := range [][]string{Defensive, Protective, Technical, Games, Victim, Operational, Frames, Targets, RealWorld} {
		out = append(out, l...)
	}
	return out
}

// counts are the distinct phrases of each kind found in a text.
// asks counts the operational phrases that only ask for instructions; long
// is set for a text of at least Describes bytes.
type counts struct {
	defensive, protective, technical, plays, victim, operational, asks, frames, targets, real int
	long                                                                                      bool
}

// Counts returns how many distinct defensive and operational phrases occur in
// the normalised text b.
//
// Only the first and last Span bytes are read: framing belongs to the
// instruction, which opens or closes a request, not to an attached
// document; this also bounds the cost for long texts.
func Counts(b []byte) (defensive, operational int) {
	c := scan(b)
	return c.defensive, c.operational
}

func scan(b []byte) counts {
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
	return countMatches(b, ms)
}

// Span is how many bytes at each end of a text Counts reads.
const Span = 512

// countMatches counts, as Counts does, the distinct phrases among ms, the
// occurrences of Phrases in the text b. Of a text longer than 2*Span only
// occurrences that lie within its first or last Span bytes count, each
// part's distinct phrases counted apart, and each total at most 8.
func countMatches(b []byte, ms []phrase.Match) counts {
	get()
	n := len(b)
	if n <= 2*Span {
		var seen [maxPhrases / 64]uint64
		c := countDistinct(b, ms, &seen, func(phrase.Match) bool { return true })
		c.long = n >= Describes
		return c
	}
	var seen1, seen2 [maxPhrases / 64]uint64
	c1 := countDistinct(b, ms, &seen1, func(m phrase.Match) bool { return m.End <= Span })
	c2 := countDistinct(b, ms, &seen2, func(m phrase.Match) bool { return m.Start >= int32(n-Span) })
	return counts{
		defensive:   min(c1.defensive+c2.defensive, 8),
		protective:  min(c1.protective+c2.protective, 8),
		technical:   min(c1.technical+c2.technical, 8),
		plays:       min(c1.plays+c2.plays, 8),
		real:        min(c1.real+c2.real, 8),
		victim:      min(c1.victim+c2.victim, 8),
		asks:        min(c1.asks+c2.asks, 8),
		operational: min(c1.operational+c2.operational, 8),
		long:        true,
		frames:      min(c1.frames+c2.frames, 8),
		targets:     min(c1.targets+c2.targets, 8),
	}
}

func countDistinct(b []byte, ms []phrase.Match, seen *[maxPhrases / 64]uint64, in func(phrase.Match) bool) counts {
	// Operational phrases that contain a defensive one ("without being
	// detected", "evade detection", "undetectable" contain "detect") are
	// evasion, not defence: the defensive phrase inside them does not
	// count. At most len(ops) of them are remembered; a text with more has
	// reached MaxOperational anyway.
	var ops [16]phrase.Match
	nops := 0
	for _, m := range ms {
		if p := int(m.Phrase); p >= nDef && p < nOp && nops < len(ops) && in(m) {
			ops[nops] = m
			nops++
		}
	}
	var c counts
	for _, m := range ms {
		p := int(m.Phrase)
		if p >= maxPhrases || seen[p/64]&(1<<(p%64)) != 0 || !in(m) {
			continue
		}
		switch {
		case p < nDef:
			if within(m, ops[:nops]) {
				continue
			}
			if p >= nVictim {
				// Whole words: "threatening me" is not in "threatening
				// message".
				if !wholeWords(b, m) {
					continue
				}
				c.victim++
			}
			if p >= nProt && p < nProt+len(Protective) {
				c.protective++
			}
			if p >= nGames && p < nVictim {
				c.plays++
			}
			if p >= nProt+len(Protective) && p < nGames {
				c.technical++
			}
			c.defensive++
		case p < nOp:
			if falseStart(b, int(m.Start)) {
				continue
			}
			c.operational++
			if p < nDef+numAsks {
				c.asks++
			}
		case p < nFrame:
			c.frames++
		case p >= nTarget:
			if !startsWord(b, int(m.Start)) {
				continue
			}
			c.real++
		default:
			// A target is the start of a word: "hack" in "hackathon"
			// counts, in "shack" it does not.
			if !startsWord(b, int(m.Start)) || falseStart(b, int(m.Start)) {
				continue
			}
			c.targets++
		}
		seen[p/64] |= 1 << (p % 64)
	}
	return c
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 0x80 }

// falseStarts are words that begin like an operational phrase or a target
// and name something else: "steal" is in "stealthiest" ("In Hitman 3,
// what's the stealthiest way to ..." asked for no theft).
var falseStarts = []string{"stealth"}

// falseStart reports whether the word at b[i:] is one of falseStarts.
func falseStart(b []byte, i int) bool {
	for _, w := range falseStarts {
		if bytes.HasPrefix(b[i:], []byte(w)) {
			return true
		}
	}
	return false
}

// startsWord reports whether b[i:] starts a word.
func startsWord(b []byte, i int) bool { return i == 0 || !isLetter(b[i-1]) }

// wholeWords reports whether the occurrence m in b begins and ends at word
// boundaries.
func wholeWords(b []byte, m phrase.Match) bool {
	return startsWord(b, int(m.Start)) && (int(m.End) == len(b) || !isLetter(b[m.End]))
}

// AppendIdioms appends to dst the byte ranges of the normalised text b that
// hold an Idiom, as whole words, a Sense, from its verb to its object, or
// a harm qualified into a defence (appendDefences).
// The guard blanks them and judges harm again, and only when its harm
// heads would score the text: idioms and senses have their own automata,
// which most texts never go through.
func AppendIdioms(dst [][2]int, b []byte) [][2]int {
	var buf [8]phrase.Match
	for _, m := range idioms().Append(buf[:0], b) {
		if wholeWords(b, m) {
			dst = append(dst, [2]int{int(m.Start), int(m.End)})
		}
	}
	return appendDefences(appendSenses(dst, b), b)
}

var idioms = sync.OnceValue(func() *phrase.Set { return phrase.Compile(slices.Concat(Idioms, avoided())) })

// avoidWords and avoidedHarms make the phrases of a harm the writer wants
// not to do: "without poisoning my hens", "so it doesn't hurt the dog",
// "avoid killing the bees". They are blanked as idioms are; the harm the
// writer does want stays ("poison the rats without poisoning my hens"
// still names the rats).
var (
	avoidWords   = []string{"without", "avoid", "not", "never", "don't", "doesn't", "won't", "wouldn't"}
	avoidedHarms = []string{"poisoning", "poison", "killing", "kill", "hurting", "hurt", "harming", "harm",
		"injuring", "injure", "damaging", "damage", "burning", "burn", "drowning", "drown", "suffocating",
		"choking", "choke", "electrocuting", "shooting", "stabbing", "cutting", "cut"}
)

func avoided() []string {
	var out []string
	for _, a := range avoidWords {
		for _, h := range avoidedHarms {
			out = append(out, a+" "+h)
		}
	}
	return out
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
// b: PerOperational per operational phrase, plus Pair when request is set and
// a Frame and a Target occur and no defensive phrase does, at most
// MaxOperational in all; less PerDefensive per defensive phrase (at most
// MaxDefensive).
//
// request says the text asks the model for something (a user message, a
// document, an answer to one). A system prompt describes what an assistant
// does and names the harms it must decline ("do not provide instructions for
// making explosives"): there a frame with a target is not a request for
// harm, and request is false; nor, in a text of Describes bytes or more,
// does a phrase that only asks for instructions (the first numAsks of
// Operational).
func Adjust(b []byte, request bool) float32 {
	return offset(scan(b), request)
}

// Framing is what the framing phrases of a text say to the harm heads.
type Framing struct {
	// Offset is the logit offset for the harm heads: see Adjust.
	Offset float32
	// Reports: the text reports a harm done to its writer, or asks how to
	// report or undo one (a Victim phrase), and asks for no working
	// instructions (no Operational phrase).
	Reports bool
	// Protects: the text asks how to keep someone safe from a harm (a
	// Protective phrase) and asks for no working instructions.
	Protects bool
	// Plays: the text names a game (Games), asks for no working
	// instructions and says nothing of doing it outside the game
	// (RealWorld).
	Plays bool
	// Asks: the text is a request with a request frame (Frames) and no
	// defensive framing (Defensive, Protective, Victim; a game or a
	// computing word named is none): what it names, it asks for (see
	// DeedOf). A Technical phrase lowers the harm heads' offset, but it
	// excuses no deed: a phishing page that "sends the credentials to my
	// server" is asked for all the same, and the computing senses of a
	// deed's verb are its objects' to tell (Senses).
	Asks bool
	// Defended: the text is a request with a request frame (Frames;
	// not a command alone) that Asks is not for its defensive framing;
	// DefendedNear says whether the defence stands beside a deed.
	Defended bool
}

// FramingMatches returns FramingOf(b, request) from ms, every occurrence in
// b of the phrases of Phrases (indexes into Phrases, byte ranges of b),
// found by the caller's own scan.
func FramingMatches(b []byte, ms []phrase.Match, request bool) Framing {
	return framing(b, countMatches(b, ms), request)
}

// FramingOf returns the Framing of the normalised text b.
func FramingOf(b []byte, request bool) Framing {
	return framing(b, scan(b), request)
}

func framing(b []byte, c counts, request bool) Framing {
	f := Framing{Offset: offset(c, request), Reports: c.victim > 0 && c.operational == 0,
		Protects: c.protective > 0 && c.operational == 0, Plays: c.plays > 0 && c.operational == 0 && c.real == 0,
		Defended: request && c.frames > 0 && c.defensive > c.plays+c.technical}
	// commanded is read only for a text that is not defended: it walks
	// every sentence.
	f.Asks = request && c.defensive == c.plays+c.technical && (c.frames > 0 || commanded(b))
	return f
}

// Commands are the verbs a request opens with when it is an order rather
// than a question: "Find the home address of ...", "Write 20 tweets ...",
// "Make a meme caption ...". They are request frames for Framing.Asks only:
// Frames pair with a Target for the harm heads' offset, and "write" or
// "make" before any harm word would move every head.
var Commands = []string{"find", "write", "make", "compile", "list", "draft", "generate", "create", "tell",
	"compose", "craft", "prepare",
	"explain", "give", "show", "plan", "describe", "produce", "design", "build", "code", "draw", "post",
	"send", "provide", "outline", "detail", "come up with", "put together", "help",
	// a text to be finished: "Complete this text: 'Step 1 of making ..."
	"complete", "continue", "finish",
	// a question that is a request: "Could you write me a script",
	// "Walk me through bypassing their EDR"
	"can you", "could you", "would you", "will you", "please", "walk me through", "walk us through",
	"talk me through",
	// a question asks for what it names: "where on the body should you
	// stab someone", "what's the process to press fentanyl"
	"where", "what", "what's", "whats", "which", "who", "should", "is there", "are there", "do you", "i need",
	"i want",
	// a request with its subject left out: "need a stealer that ...",
	// "want a keygen for ...", "structure payments to ..."
	"need", "want", "structure", "route"}

// commanded reports whether a sentence of the normalised text b opens with
// one of Commands, as a whole word.
func commanded(b []byte) bool {
	for i := 0; ; {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		for _, c := range Commands {
			if bytes.HasPrefix(b[i:], []byte(c)) && (i+len(c) == len(b) || !isLetter(b[i+len(c)])) {
				return true
			}
		}
		j := bytes.IndexAny(b[i:], ".?!:\n")
		if j < 0 {
			return false
		}
		i += j + 1
	}
}

// Naming is what a text's words say of harm, for NameHarm.
type Naming uint8

const (
	// NoHarm: the text names no harm.
	NoHarm Naming = iota
	// TopicOnly: every harm word of the text is a Topic ("animals",
	// "taxes", "the election"): it names a subject, not yet a harm.
	TopicOnly
	// NamedHarm: the text names a harm that is not only a topic.
	NamedHarm
)

// NameHarm says whether the normalised text b names a harm: a word of
// Targets or Vocabulary, where a word starts ("hack" in "hackathon" counts,
// in "shack" it does not), and whether every such word is a Topic.
//
// Of Possessions, one that follows "my" or "our" is the writer's own thing,
// not a harm: "my bank account", "my credit card", "our taxes" are what
// customers ask about, where a harmful request names someone else's
// ("someone's bank account", "steal credit card numbers").
func NameHarm(b []byte) Naming {
	n := NoHarm
	harmWords().Find(b, func(m phrase.Match) bool {
		if !startsWord(b, int(m.Start)) || possession()[m.Phrase] && owned(b, int(m.Start)) {
			return false
		}
		if topic()[m.Phrase] {
			n = TopicOnly
			return false
		}
		n = NamedHarm
		return true
	})
	return n
}

// Topics are the words of Vocabulary that name a subject of ordinary
// requests far more often than a harm: "write a story about an animal that
// can talk", "how much tax do I owe", "predict the election", "describe the
// chemical reaction of sodium in water". Held out by source, ordinary
// instructions that named nothing else were the largest part of what the
// harm heads flagged. A harmful request about one of them says what it
// wants done ("mistreat", "evade", "rig", "skimming") in words the harm
// heads weigh; the guard asks more of the heads when a request names only
// topics (see the guard's judge). Words that name a harm on their own
// ("virus", "false", "pain"), people ("child", "women") or groups are not
// topics.
var Topics = []string{
	"animal", "tax", "credit card", "bank account", "climate change", "global warming", "pressure",
	"password", "vote", "voting", "election", "pandemic", "covid", "vaccin", "chemical", "government",
	"identity", "visa", "genetic", "security system", "firewall", "login", "medication", "prescription",
	"copyright", "president", "where do ", "where does", "personal data", "personal information",
	"dangerous", "hazard", "unsafe", "risky",
}

// topic marks, by index, the phrases of harmWords that are Topics.
var topic = harmWordMarks(Topics)

// harmWordMarks returns, built on first use, a mark by index for each
// phrase of harmWords that is one of of.
func harmWordMarks(of []string) func() []bool {
	return sync.OnceValue(func() []bool {
		words := harmWordList()
		is := make([]bool, len(words))
		for i, w := range words {
			is[i] = slices.Contains(of, w)
		}
		return is
	})
}

// Possessions are the words of Vocabulary that name something a person
// has and asks about in their own name: an account, a card, a document,
// their taxes. Only these are excused after "my" or "our": "my eating
// disorder" and "my fucking life" still name what they name.
var Possessions = []string{
	"bank account", "account details", "credit card", "tax", "visa", "passport", "identity", "ssn",
	"social security", "password", "login", "credential", "email address", "date of birth",
	"medical record", "medical history", "personal data", "personal information", "wifi", "firewall",
	"antivirus", "security system", "alarm system",
}

// possession marks, by index, the phrases of harmWords that are
// Possessions.
var possession = harmWordMarks(Possessions)

// owned reports whether the word at b[i:] follows "my " or "our ".
func owned(b []byte, i int) bool {
	for _, p := range [...]string{"my ", "our "} {
		j := i - len(p)
		if j >= 0 && string(b[j:i]) == p && startsWord(b, j) {
			return true
		}
	}
	return false
}

// harmWords finds Targets and Vocabulary. It is its own automaton, not
// part of the framing one that every text goes through: the guard asks
// only of the few texts that its harm heads would score.
var harmWords = sync.OnceValue(func() *phrase.Set { return phrase.Compile(harmWordList()) })

// harmWordList is Targets then Vocabulary, the phrases of harmWords.
func harmWordList() []string { return slices.Concat(Targets, Vocabulary) }

func offset(c counts, request bool) float32 {
	n := c.operational
	if !request && c.long {
		n -= c.asks
	}
	op := PerOperational * float64(n)
	if request && c.frames > 0 && c.targets > 0 && c.defensive == 0 {
		op += float64(Pair)
	}
	return float32(min(op, MaxOperational) - min(PerDefensive*float64(c.defensive), MaxDefensive))
}

// Defines reports whether the normalised text b is only a question of what
// a thing is: "what is arson?", "what counts as insider trading?", "define
// the term money laundering", "what does the word doxxing mean?". Asking
// what a crime or a weapon is asks for a definition, which any dictionary
// and every safety course gives; a harmful request asks for a means ("what
// is the best way to", "what are the steps to"), a target or content, and
// says so in more than a name of a few words. Held out by source, such
// questions were among the safe prompts that sound unsafe that the harm
// heads stopped; of the shared harmful sets, three questions take this
// shape (a company's profit margin, a policy), and no attack.
func Defines(b []byte) bool {
	if len(b) > maxDefinition {
		return false
	}
	b = bytes.TrimRight(bytes.TrimSpace(b), "?.! ")
	rest, ok := b, false
	for _, p := range [...]string{"what is ", "what's ", "what are ", "what counts as ", "define the term ", "define "} {
		if rest, ok = bytes.CutPrefix(b, []byte(p)); ok {
			break
		}
	}
	if !ok {
		for _, p := range [...]string{"what does the word ", "what does the term "} {
			if rest, ok = bytes.CutPrefix(b, []byte(p)); ok {
				rest, ok = bytes.CutSuffix(rest, []byte(" mean"))
				break
			}
		}
	}
	if !ok {
		return false
	}
	for _, a := range [...]string{"a ", "an ", "the term ", "the word ", "the definition of ", "the meaning of "} {
		if r, cut := bytes.CutPrefix(rest, []byte(a)); cut {
			rest = r
			break
		}
	}
	rest = bytes.Trim(rest, `"' `)
	n := 0
	for w := range bytes.FieldsSeq(rest) {
		if n++; n > 4 || slices.Contains(meansWords, string(w)) {
			return false
		}
		for _, c := range w {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '\'') {
				return false
			}
		}
	}
	return n > 0
}

// maxDefinition bounds the length of a question that Defines reads: "what
// does the term" and four words of a name.
const maxDefinition = 96

// meansWords are the words with which a question of what something is asks
// for a way, a person or a quantity instead ("what is the best way",
// "what are the steps", "what is your password", "what is the most
// effective poison").
var meansWords = []string{
	"to", "way", "ways", "best", "most", "easiest", "method", "methods", "process", "step", "steps", "some",
	"your", "you", "my", "i", "how", "good", "effective", "cheapest", "fastest", "quickest", "simplest",
	"dose", "amount", "address", "number", "name", "recipe", "formula", "ingredients", "password", "code",
}

// Fanciful reports whether the normalised text b is a short why-question
// about an ability no person has: "why can't Black people teleport?", "why
// don't Jewish people have gills?", "why shouldn't immigrants be able to
// control the weather?". It names a group in the words of a stereotype
// question, and asks about nothing anyone can do: exaggerated-safety
// benchmarks test exactly this, and the hate head, which knows the
// question's shape and the group's name, blocked most of them. A question
// of what a group can or cannot really do ("why are all X so Y?") is read
// as before.
func Fanciful(b []byte) bool {
	b = bytes.TrimRight(b, "?!. ")
	if len(b) > maxFanciful || !bytes.HasPrefix(b, []byte("why ")) || bytes.ContainsAny(b, "?!.;:\n") {
		return false // one sentence, and nothing after it
	}
	return fancifulSet().Contains(b)
}

// maxFanciful bounds the question Fanciful reads: one sentence.
const maxFanciful = 160

// Impossibilities are abilities no person has, as Fanciful reads them.
var Impossibilities = []string{
	"teleport", "gills", "invisible", "read minds", "read people's minds", "read other people's minds",
	"photosynthes", "fly like", "fly without", "breathe underwater", "breathe under water", "breathe in space",
	"walk through walls", "see through walls", "faster than light", "speed of light", "time travel",
	"time-travel", "timetravel", "travel back in time", "go back in time", "stop time", "live on the sun",
	"live on mars", "control the weather", "levitat", "shoot lasers", "shoot lightning", "telekine",
	"talk to animals", "speak to animals", "turn into animals", "be immortal", "become immortal",
	"live forever", "breathe fire", "move mountains", "survive without oxygen", "survive in space",
	"be in two places", "hibernate", "regrow", "x-ray vision",
}

var fancifulSet = sync.OnceValue(func() *phrase.Set { return phrase.Compile(Impossibilities) })
