package intent

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/wardenhq/warden/internal/guard/phrase"
)

// A Deed is a harm that a request can ask to do, in so many words: a verb
// and, within a few words after it, its object ("launder the money", "make
// a pipe bomb", "hack into my ex's email", "poison my neighbor's dog").
//
// The harm heads are bags of n-grams trained on a few hundred harmful
// requests per source; held out by source they miss blatant requests whose
// words no training source used ("How can I embezzle funds from my
// workplace?" scores nothing on any head). Neither the verb nor the object
// alone is harmful ("make a cake", "a bomb shelter", "kill a process",
// "someone's birthday"); together, asked for, they are the harm. The
// table is written from the categories of crime and violence the guard
// blocks, not mined from the harmful sets, and every object is chosen so
// that the pair is not an ordinary request: a person or someone else's
// property, a weapon, a drug, a crime. Verbs are base forms and gerunds
// only: "hacked into my account" reports a harm, it does not ask for one.
type Deed struct {
	// Category is the guard category the deed is a harm of.
	Category string
	// Verbs are whole words or phrases.
	Verbs []string
	// Objects start a word and end one, or end with a plural "s" or "es";
	// an empty list means the verb alone is the deed ("shoplift").
	Objects []string
}

// DeedGap is how many words may stand between a deed's verb and its
// object: "make a homemade pipe bomb", "hack into my ex-girlfriend's email".
const DeedGap = 4

var (
	makeVerbs = []string{"make", "making", "build", "building", "assemble", "assembling", "construct",
		"constructing", "create", "creating", "produce", "producing", "manufacture", "manufacturing",
		"3d print", "3d printing", "print", "printing"}
	drugVerbs = []string{"make", "making", "cook", "cooking", "synthesize", "synthesizing", "synthesise",
		"synthesising", "manufacture", "manufacturing", "produce", "producing", "extract", "extracting"}
	codeVerbs = []string{"write", "writing", "create", "creating", "code", "coding", "develop", "developing",
		"make", "making", "build", "building", "program", "programming", "design", "designing", "deploy",
		"deploying", "spread", "spreading", "distribute", "distributing", "need", "want", "give", "provide",
		"send"}
	// people are the objects of violence: anyone but the writer.
	people = []string{"someone", "somebody", "a person", "people", "my wife", "my husband", "my ex", "my boss",
		"my neighbor", "my neighbour", "my mother", "my father", "my mom", "my dad", "my sister", "my brother",
		"my roommate", "my coworker", "stray cats", "stray dogs", "the strays", "streamers", "a streamer",
		"my co-worker", "my teacher", "my gf", "my bf", "my classmate", "my stepdad", "my stepmom", "my girlfriend",
		"my boyfriend", "my partner", "my landlord", "my uncle", "my aunt", "my family", "the president",
		"a politician", "a police officer", "a cop", "a judge", "a witness", "a stranger", "strangers",
		"a journalist", "a celebrity"}
	// othersPersons are the objects of intrusion that belong to a person
	// or hold people's data.
	othersPersons = []string{"someone's", "someone else's", "my gf", "my gf's", "my bf", "my bf's", "another person's", "other people's", "my ex's",
		"my wife's", "my husband's", "my girlfriend's", "my boyfriend's", "my partner's", "my boss's",
		"my neighbor's", "my neighbour's", "my teacher's", "my coworker's", "my roommate's", "his account",
		"her account", "his phone", "her phone", "his email", "her email", "his instagram", "her instagram",
		"his facebook", "her facebook", "people's accounts", "a bank account", "bank accounts",
		"a government database", "government database", "a government network", "government systems",
		"corporate network", "school database"}
	// othersThings are the objects of intrusion: what belongs to someone
	// else, or to an institution. Not "a government" alone: careers are
	// broken into too.
	othersThings = append([]string{"a bank's", "a hospital", "a company's", "a school's", "the school's",
		"an atm", "the pentagon", "widevine", "the scada", "a scada", "scada system", "a water treatment plant",
		"the power grid", "a power plant", "a nuclear plant"}, othersPersons...)
	// formerEmployers are where a fired employee is no longer let in.
	formerEmployers = []string{"my old job's", "my former employer's", "my ex-employer's", "my old company's",
		"my former company's", "my old employer's"}
	weaponObjects = []string{"a bomb", "pipe bomb", "car bomb", "nail bomb", "dirty bomb",
		"an explosive", "explosive device", "ied", "grenade", "landmine", "detonator", "napalm", "molotov",
		"nerve agent", "sarin", "ricin", "mustard gas", "chlorine gas", "poison gas", "toxic gas",
		"bioweapon", "biological weapon", "chemical weapon", "ghost gun", "untraceable gun",
		"untraceable firearm", "tatp", "a suppressor", "a silencer", "suppressor for a", "silencer for a",
		"a jammer", "signal jammer", "gps jammer", "phone jammer", "police radio jammer", "a pistol with no serial",
		"a gun with no serial", "an unregistered gun", "an unregistered suppressor", "unregistered suppressor",
		"unserialized receivers", "unserialized receiver", "unserialized lowers", "vx"}
	// recipeNouns ask for how a thing is made, as a noun before it.
	recipeNouns = []string{"recipe", "recipes", "synthesis", "synthesis route", "synthesis of", "formula for",
		"blueprint", "blueprints", "schematics for", "synthesize", "synthesizing", "synthesise", "precursors for",
		"precursors of", "milling", "mill"}
	// groups are the objects of hate: people named by what they are.
	groups = []string{"disabled people", "the disabled", "trans people", "transgender people", "a trans",
		"this trans", "gay people", "gays", "lesbians", "black people", "jews", "jewish people", "muslims",
		"roma people", "black voters", "hispanic voters",
		"immigrants", "refugees", "asians", "asian people", "mexicans", "latinos", "arabs", "autistic people",
		"fat people", "old people", "women", "gypsies", "roma", "disabled kids", "disabled children",
		"a trans girl", "trans girl", "trans kids", "trans women", "trans men"}
	crimes = []string{"fraud", "insurance fraud", "tax fraud", "wire fraud", "credit card fraud",
		"identity theft", "arson", "a robbery", "robbery", "burglary", "a burglary", "insider trading",
		"a hit and run", "mail fraud", "bank fraud", "welfare fraud", "shoplifting"}
)

// Deeds is the table. See Deed.
var Deeds = []Deed{
	{"weapons", makeVerbs, weaponObjects},
	// a recipe or a route is asked for as a noun: "the exact recipe and
	// quantities for TATP", "a synthesis route for mustard gas"
	{"weapons", recipeNouns, weaponObjects},
	{"weapons", []string{"rig", "rigging", "booby-trap", "booby trap", "booby-trapping", "booby trapping"},
		[]string{"explode", "explodes", "to explode", "blow up", "blows up", "to detonate", "detonates"}},
	// a firearm made untraceable
	{"weapons", []string{"remove", "removing", "grind off", "grinding off", "file off", "filing off", "erase",
		"erasing", "obliterate", "obliterating", "scratch off", "deface", "defacing"}, []string{"a gun's serial",
		"the gun's serial", "serial number off a gun", "serial number from a gun", "serial numbers off",
		"serial number off my gun", "serial number off a pistol", "serial number off a rifle",
		"the serial number on a gun", "the serial number on my gun", "the serial number on a glock",
		"the serial numbers on a gun"}},
	// enhancing a pathogen (gain of function): "make a bird flu strain
	// spread more easily between humans"
	{"weapons", []string{"make", "making", "engineer", "engineering", "modify", "modifying", "enhance",
		"enhancing", "mutate", "mutating"}, []string{"more transmissible", "spread more easily between",
		"transmissible between humans", "airborne transmissible", "more virulent", "more lethal to humans",
		"spread efficiently between"}},
	{"weapons", []string{"convert", "converting", "modify", "modifying"}, []string{"fully automatic",
		"full auto", "into a machine gun", "to full auto", "to fully automatic"}},
	{"weapons", []string{"turn", "turning", "convert", "converting", "machine", "machining"}, []string{
		"solvent trap into", "a solvent trap into", "solvent trap kit into"}},
	// pathogens grown and weaponised
	{"weapons", []string{"culture", "culturing", "grow", "growing", "weaponize", "weaponizing", "weaponise",
		"aerosolize", "aerosolizing"}, []string{"anthrax", "anthrax spores", "botulinum", "plague bacteria",
		"smallpox", "a pathogen"}},
	{"illicit", slices.Concat(drugVerbs, recipeNouns, []string{"press", "pressing", "convert", "converting"}), []string{"meth",
		"methamphetamine", "crystal meth", "cocaine", "crack cocaine", "heroin", "fentanyl", "lsd", "mdma",
		"ghb", "date rape drug", "roofies", "dmt", "ketamine", "pcp", "fake oxy", "counterfeit pills",
		"fake pills", "coke into crack", "morphine from poppy", "opium from poppies", "chloroform"}},
	{"illicit", []string{"cut", "cutting", "mix", "mixing", "lace", "lacing"}, []string{"into a brick",
		"fentanyl into", "into heroin", "into cocaine", "with fentanyl"}},
	{"illicit", []string{"get", "getting", "sneak", "sneaking", "smuggle", "take", "taking", "write", "writing",
		"create", "make"}, []string{"mdma pills past", "drugs past", "pills past security", "drugs into a festival",
		"drugs into prison", "darknet market vendor", "darknet vendor", "dark web vendor", "darknet listing",
		"dark web listing"}},
	// drugs hidden from the dogs and scanners that look for them
	{"illicit", []string{"swallow", "swallowing", "hide", "hiding", "conceal", "concealing", "pack", "packing",
		"wrap", "wrapping", "ship", "shipping", "package", "packaging", "mail", "mailing", "smuggle", "smuggling",
		"stash", "stashing", "build", "building"}, []string{"pellets of cocaine", "cocaine pellets", "drug pellets",
		"so sniffer dogs", "from sniffer dogs", "sniffer dogs don't", "sniffer dogs won't", "drug dogs won't",
		"so drug dogs", "from drug dogs", "a k9 won't", "k9 won't", "k9s won't", "so the k9", "scanners miss",
		"so x-ray", "x-ray won't", "x-ray don't"}},
	{"illicit", []string{"buy", "buying", "obtain", "obtaining", "order", "ordering", "sell", "selling", "acquire",
		"acquiring"},
		[]string{"cocaine", "heroin", "methamphetamine", "fentanyl", "illegal drugs", "drugs without",
			"a gun without", "guns without", "a firearm without", "stolen goods", "stolen credit card",
			"credit card numbers", "a fake id", "fake ids", "a fake passport", "human organs", "organs on",
			"a kidney on", "fullz", "cloned cards", "stolen cards", "cvvs", "highly enriched uranium",
			"enriched uranium", "plutonium", "weapons-grade"}},
	{"illicit", []string{"cash out", "cashing out"}, []string{"cloned cards", "stolen cards", "stolen credit cards",
		"fullz", "dumps", "a stolen"}},
	{"illicit", []string{"smuggle", "smuggling"}, []string{"drugs", "cocaine", "heroin", "fentanyl", "people",
		"migrants", "immigrants", "weapons", "guns", "contraband", "across the border", "into prison",
		"past customs", "through customs", "through airport security", "out of the country", "parrots",
		"exotic animals", "wildlife", "ivory", "rhino horn"}},
	{"illicit", []string{"move", "moving", "transport", "transporting", "sneak", "sneaking", "bring", "bringing"},
		[]string{"people across the", "migrants across", "people over the border", "people past checkpoints"}},
	{"illicit", []string{"launder", "laundering"}, []string{"money", "cash", "funds", "proceeds", "profits",
		"drug money", "bitcoin", "crypto", "it through a"}},
	// officials bought
	{"illicit", []string{"bribe", "bribing", "pay off", "paying off", "offer", "offering", "slip", "slipping",
		"structure payments",
		"structuring payments", "route payments", "routing payments", "funnel money", "funneling money"}, []string{
		"a customs official", "customs officials", "a customs officer", "a police officer", "a cop", "a judge",
		"a city councilman", "a councilman", "to a city councilman", "to a councilman", "to an official",
		"the judge", "a customs officer", "the customs officer", "a border guard", "the border guard",
		"the councilman",
		"to a customs official", "to the inspector", "an inspector", "a building inspector", "a government official",
		"an official"}},
	{"illicit", []string{"counterfeit", "counterfeiting", "forge", "forging", "print fake", "printing fake",
		"make counterfeit", "print counterfeit"}, []string{"money", "bills", "currency", "banknotes", "dollars",
		"euros", "checks", "cheques", "id", "passport", "driver's license", "drivers license", "signature",
		"prescription", "diploma", "vaccination card", "vaccine card", "coins", "euro coins", "pound coins"}},
	{"illicit", []string{"template for", "template of", "templates for", "replicate", "replicating", "clone",
		"cloning"}, []string{"the mrz", "passport chip", "chip data so", "a driver's license",
		"driver's license", "drivers license", "a passport", "passport", "an id card", "a state id",
		"california driver's", "texas driver's", "a fake"}},
	{"illicit", []string{"evade", "evading", "dodge", "dodging", "cheat on", "cheating on"},
		[]string{"taxes", "my taxes", "income tax", "the irs", "paying taxes"}},
	{"illicit", []string{"embezzle", "embezzling"}, []string{"money", "funds", "from"}},
	{"illicit", []string{"commit", "committing"}, append([]string{"murder", "a murder"}, crimes...)},
	// Not "get away with murder": an idiom, and a television series.
	{"illicit", []string{"get away with", "getting away with"}, crimes},
	{"illicit", []string{"run", "running", "set up", "setting up", "start", "starting", "create", "creating",
		"orchestrate", "orchestrating", "pull off", "pulling off", "organize", "organise"},
		[]string{"a romance scam", "romance scams", "a ponzi scheme", "ponzi scheme", "a pyramid scheme", "a pump and dump", "pump and dump",
			"pump-and-dump", "a rug pull", "rug pull", "refund scams", "a refund scam", "refund fraud",
			"kidney broker", "an organ broker", "organ trafficking", "a cockfighting ring", "cockfighting ring",
			"a dogfighting ring", "dogfighting ring", "a cockfight", "cockfights", "a dogfight", "dog fights",
			"a pirate iptv", "pirate iptv", "a piracy site",
			"an iptv service reselling", "iptv service reselling"}},
	// a bribe's usual covers
	{"illicit", []string{"straw donors", "straw donor", "steer the tender", "steering the tender",
		"make the case file go missing"}, nil},
	{"illicit", []string{"scam", "scamming", "defraud", "defrauding", "swindle", "swindling"},
		[]string{"people", "someone", "elderly", "old people", "the elderly", "seniors", "my grandma",
			"my grandmother", "an old", "investors", "a bank", "the government", "my employer",
			"insurance company", "retirees", "tourists"}},
	{"illicit", []string{"steal", "stealing", "rob", "robbing"}, []string{"a car", "cars", "someone's",
		"someone else's", "a bank", "a store", "a house", "a gas station", "money from", "from my employer",
		"from a store", "from the register", "from the cash register", "credit card", "identity",
		"identities", "packages", "a bike", "catalytic converter", "my neighbor", "my neighbour", "a wallet"}},
	{"illicit", []string{"break into", "breaking into", "burglarize", "burglarizing", "burgle"},
		[]string{"a house", "someone's house", "someone's home", "a home", "a car", "someone's car", "a store",
			"an apartment", "my neighbor", "my neighbour", "a building", "a safe", "an atm", "a vending machine"}},
	{"illicit", []string{"shoplift", "shoplifting", "pickpocket", "pickpocketing", "hotwire", "hotwiring",
		"hot-wire"}, nil},
	{"illicit", []string{"open", "opening", "take out", "taking out", "apply for", "applying for", "file",
		"filing", "claim", "claiming", "register", "registering"},
		[]string{"in someone else's name", "in someone elses name", "in someone's name", "in another person's name",
			"in a dead person's name", "using someone's ssn", "using someone else's ssn", "with someone's ssn",
			"with a stolen", "using my tenants", "using their ssn", "with their ssn", "using my customers'",
			"using my employees'"}},
	// the grandparent scam and its kin: "calling elderly people pretending
	// to be their grandson in jail"
	{"illicit", []string{"pretending to be", "posing as", "pose as", "pretending to be from", "pretend to be from",
		"claiming to be from", "introduce themselves as", "introduce yourself as", "introduce ourselves as",
		"looks like it came from", "look like it came from", "looks like it's from", "look like it's from",
		"appears to come from", "appear to come from", "pretend to be someone's", "pretend i'm someone's"},
		[]string{"their grandson", "their granddaughter", "their grandchild", "a grandchild", "her grandson",
			"his grandson", "someone's grandson", "someone's grandchild", "grandson", "microsoft support",
			"tech support", "apple support", "their bank", "an irs agent", "the irs", "irs", "social security",
			"royal mail", "usps", "fedex", "dhl", "hmrc", "paypal", "medicare", "the county elections",
			"the elections office", "the election office", "our client's", "their supplier", "a supplier",
			"your bank"}},
	// what a scam asks its victims to pay with
	{"illicit", []string{"unless they pay", "get them to pay", "make them pay", "have them pay",
		"demand payment in", "demanding payment in"}, []string{"gift cards", "apple gift cards", "itunes cards",
		"google play cards", "steam cards", "in gift cards", "by gift cards", "with gift cards",
		"by apple gift cards", "in bitcoin"}},
	// passports taken from the people who are to be kept
	{"illicit", []string{"take", "taking", "keep", "keeping", "confiscate", "confiscating", "hold", "holding",
		"withhold", "withholding", "hold on to", "holding on to"}, []string{"their documents", "their papers", "their passports", "their passport", "her passport", "his passport",
		"the girls' passports", "workers' passports", "the passports of"}},
	// votes misled
	{"illicit", []string{"telling", "tells", "tell", "saying that", "saying", "claiming", "claiming that"}, []string{
		"their polling place has moved", "polling place has moved", "polling location has changed",
		"vote by text", "vote by phone", "votes on wednesday", "the election has been moved",
		"election has been postponed", "polling stations have moved", "polling places have moved",
		"polling station has moved", "moved voting to", "have moved voting", "vote on wednesday",
		"should vote on wednesday", "vote the next day", "vote the day after", "vote tomorrow instead",
		"polling location moved", "polling place moved", "polling places are closed", "polling stations are closed"}},
	{"illicit", []string{"make", "making", "create", "creating", "need", "generate", "generating", "produce"},
		[]string{"deepfake audio clip of governor", "deepfake audio of the governor", "deepfake of the president",
			"deepfake of a candidate", "deepfake audio of a candidate", "deepfake video of a candidate",
			"deepfake of candidate", "deepfake audio clip of candidate", "deepfake video of the opposition",
			"deepfake of the opposition", "deepfake video of the candidate"}},
	{"illicit", []string{"make", "making", "create", "creating", "generate", "generating", "forge", "forging",
		"print", "printing", "photoshop", "fabricate", "fabricating", "need"}, []string{"fake pay stub", "fake paystub",
		"fake bank statement", "fake w-2", "fake tax return", "fake utility bill", "fake ids", "fake id",
		"fake passport", "fake driver's license", "fake drivers license", "fake diploma", "fake invoice",
		"fake eu passport", "fake uk passport", "fake us passport", "prescription pads", "fake prescriptions"}},
	{"illicit", []string{"install", "installing", "place", "placing", "attach", "attaching", "hide", "hiding",
		"put", "putting"}, []string{"a card skimmer", "card skimmer", "a skimmer", "skimmer", "skimming device"}},
	{"illicit", []string{"impersonate", "impersonating"}, []string{"a police officer", "a cop", "a doctor",
		"a federal agent", "the irs", "an irs agent", "a government official", "a bank"}},
	{"illicit", []string{"skim", "skimming", "clone", "cloning"}, []string{"credit card", "debit card",
		"someone's phone", "someone's sim", "a sim card"}},
	{"illicit", []string{"write", "writing", "create", "creating", "post", "posting", "generate",
		"generating", "make", "making", "build", "building", "design", "designing", "code", "coding", "set up",
		"setting up", "clone", "cloning", "run", "running", "operate", "operating"}, []string{"fake reviews", "fake review", "fake 5-star",
		"fake five-star", "phishing email", "phishing e-mail", "phishing message", "phishing page",
		"phishing site", "phishing website", "phishing kit", "scam email", "scam message", "scam text",
		"phishing sms", "phishing texts", "smishing", "sock puppet accounts", "sock-puppet accounts"}},
	{"malware", codeVerbs, []string{"a keylogger", "keylogger", "ransomware", "malware", "a computer virus",
		"computer virus", "a virus that", "trojan", "a worm that", "rootkit", "botnet", "spyware",
		"stalkerware", "remote access trojan", "credential stealer", "cryptojacker", "a cryptominer",
		"info stealer", "infostealer", "a logic bomb", "zero-day exploit", "an exploit for",
		"a command-and-control", "command and control panel", "c2 panel", "infected phones", "infected devices",
		"infected android", "a credential stuffing", "credential stuffing tool", "a working exploit for",
		"working exploit for", "a stealer", "stealer that", "stealer for", "a crypter", "crypter for",
		"fully undetectable", "a rat that", "a rat for"}},
	{"malware", []string{"get into", "getting into", "log into", "logging into", "get back into"}, []string{"my ex's",
		"my wife's", "my husband's", "my girlfriend's", "my boyfriend's", "my partner's", "his instagram",
		"her instagram", "his email", "her email", "his phone", "her phone", "her icloud", "his icloud"}},
	{"malware", []string{"phish", "phishing", "do", "doing", "perform", "pull"}, []string{"her password",
		"his password", "her credentials", "his credentials", "sim swap on her", "sim swap on his",
		"sim swap on someone", "sim-swap on", "sim swap on my"}},
	{"malware", []string{"hack", "hacking", "hack into", "hacking into", "gain unauthorized access",
		"gaining unauthorized access", "get unauthorized access", "crack", "cracking"}, othersThings},
	{"malware", []string{"break into", "breaking into"}, othersPersons},
	{"malware", []string{"get back into", "getting back into", "get into", "getting into", "log into",
		"log back into", "hack", "hack into", "break into"}, formerEmployers},
	// an account taken over ("take over someone's WhatsApp") and a remote
	// access tool put on someone's machine
	{"malware", []string{"take over", "taking over", "hijack", "hijacking"}, []string{"someone's whatsapp",
		"someone's instagram", "someone's account", "someone's email", "someone's phone", "someone's facebook",
		"someone's snapchat", "someone's tiktok", "someone's discord", "someone else's account",
		"his whatsapp", "her whatsapp", "his account", "her account", "my ex's"}},
	{"malware", []string{"install", "installing", "get", "getting", "put", "putting", "plant", "planting",
		"sneak", "sneaking", "drop", "dropping", "hide", "hiding"}, []string{"a rat onto", "a rat on", "a rat into", "a keylogger on",
		"a keylogger onto", "keylogger on", "a trojan on", "a trojan onto", "malware on", "malware onto",
		"a backdoor on", "a backdoor into", "ransomware on", "ransomware onto", "spyware on my wife",
		"spyware on my husband", "spyware on my girlfriend", "spyware on my boyfriend", "spyware on my partner",
		"spyware on my ex", "spyware on her", "spyware on his", "spyware on someone", "stalkerware on"}},
	{"malware", []string{"launch", "launching", "perform", "performing", "carry out", "carrying out",
		"conduct", "conducting", "execute", "executing"}, []string{"a ddos", "ddos attack",
		"a dos attack", "a denial of service attack", "a denial-of-service attack", "a ransomware attack",
		"a cyberattack", "a cyber attack"}},
	{"malware", []string{"ddos", "ddosing", "ddos'ing", "knock offline",
		"knocking offline", "flood", "flooding"}, []string{"a server", "server", "servers", "a website",
		"website", "websites", "a site", "network", "someone's", "my school", "my school's", "my ex",
		"an ip", "his ip", "her ip", "their ip", "a streamer", "streamer", "router", "a game server",
		"game server"}},
	{"malware", []string{"steal", "stealing", "steals", "harvest", "harvesting", "sniff", "sniffing", "grab",
		"grabs", "grabbing", "dump", "dumps", "dumping", "exfiltrate", "exfiltrates", "exfiltrating", "intercept",
		"intercepts", "intercepting"},
		[]string{"passwords", "credentials", "session cookies", "session tokens", "login credentials",
			"credit card numbers", "credit card data", "personal data from", "user data from",
			"someone's password", "people's passwords", "wifi passwords", "the password hashes",
			"saved passwords", "browser passwords", "passwords and cookies", "crypto wallet", "discord tokens",
			"ntds.dit", "2fa codes", "otp codes", "one-time codes", "sms codes", "verification codes"}},
	// security tools turned off on someone else's machines, and DDoS for hire
	{"malware", []string{"bypass", "bypassing", "evade", "evading", "disable", "disabling", "blind", "blinding"},
		[]string{"their edr", "their antivirus", "their av", "their defender", "an edr", "edr and"}},
	{"malware", []string{"booter", "stresser", "ip booter", "ip stresser"}, nil},
	// Not "shoot": photographers shoot people, strangers and children.
	{"violence", []string{"kill", "killing", "murder", "murdering", "poison", "poisoning", "strangle",
		"strangling", "stab", "stabbing", "drown", "drowning", "suffocate",
		"suffocating", "smother", "smothering", "beat up", "beating up", "torture", "torturing", "kidnap",
		"kidnapping", "abduct", "abducting", "assassinate", "assassinating", "maim", "maiming", "jump",
		// not "beat": people beat their dad at chess
		"punch", "punching", "slap", "slapping", "hit", "hitting", "choke", "choking", "hurt", "hurting"},
		append([]string{"my child", "my baby", "my son", "my daughter", "a child", "a kid",
			"my neighbor's dog", "my neighbour's dog", "my neighbor's cat", "a jew", "jews", "muslims",
			"a muslim", "black people", "gay people", "immigrants"}, people...)},
	// Not children: parents may watch over their own.
	{"violence", []string{"stalk", "stalking", "spy on", "spying on", "dox", "doxx", "doxing", "doxxing",
		"blackmail", "blackmailing", "extort", "extorting", "harass", "harassing", "swat", "swatting"},
		append([]string{"her", "him", "money from"}, people...)},
	{"violence", []string{"make", "making"}, []string{"it look like an accident", "it look like a suicide",
		"someone disappear", "a death look", "death look like"}},
	// poisoning many, or one drink: "contaminate my town's water supply",
	// "what can I put in a girl's drink"
	{"violence", []string{"contaminate", "contaminating", "poison", "poisoning", "taint", "tainting", "spike",
		"spiking"}, []string{"water supply", "the water supply", "a water supply", "a reservoir", "the reservoir",
		"food supply", "her drink", "his drink", "someone's drink", "a girl's drink", "their drink", "'s drink",
		"'s food", "'s coffee", "'s dog", "'s cat", "drinking water", "the drinking water"}},
	// a drink drugged: "slip something into my roommate's drink" (not
	// "put" or "food": "what can I put in my dog's food to make him eat")
	{"violence", []string{"slip", "slipping", "spike", "spiking", "drug", "drugging", "dose", "dosing"},
		[]string{"'s drink", "'s drinks", "'s coffee"}},
	// drugs carried in the body, and the dogs that find them fooled
	{"illicit", []string{"body pack", "body-pack", "bodypack", "body packing", "body-packing"}, []string{"cocaine",
		"heroin", "drugs", "meth", "fentanyl", "pellets"}},
	{"illicit", []string{"beat", "beating", "fool", "fooling", "get past", "getting past", "trick", "tricking",
		"evade", "evading"}, []string{"a k9", "the k9", "k9 sniff", "a k9 sniff", "drug dogs", "a drug dog",
		"the drug dog", "sniffer dogs", "a sniffer dog", "the sniffer dog"}},
	{"violence", []string{"put", "putting", "slip", "slipping", "hide", "hiding"}, []string{"in her drink",
		"in his drink", "in someone's drink", "in a girl's drink", "into her drink", "into his drink",
		"into someone's drink", "in their drink", "into a girl's drink", "in my neighbor's dog", "in my neighbour's dog",
		"in my neighbors dog", "in my neighbours dog", "in my neighbor's cat", "in my neighbour's cat", "in her food",
		"in his food", "in someone's food", "in my coworkers coffee", "in my coworker's coffee", "in his coffee",
		"in her coffee", "in someone's coffee", "into my buddy's drink", "in my buddy's drink",
		"into my friend's drink", "in my friend's drink", "in a woman's drink", "a woman's drink",
		"cake with edibles", "brownies with edibles", "food with edibles"}},
	// knocked out and trained to fight
	{"violence", []string{"knock", "knocking"}, []string{"a girl out", "her out at", "a woman out", "someone out for good"}},
	{"violence", []string{"train", "training", "breed", "breeding"}, []string{"for dog fighting", "for dogfighting",
		"for cockfighting", "pit bulls for fighting", "dogs for fighting",
		"a pit bull for fighting", "pitbulls for fighting", "pitbull for fighting", "for dog fights",
		"for dogfights"}},
	// people kept by debt and fear
	{"illicit", []string{"keep", "keeping"}, []string{"them in debt", "the girls in debt", "her in debt",
		"workers in debt", "the workers in debt"}},
	{"illicit", []string{"threaten", "threatening"}, []string{"to call ice", "to call immigration",
		"to report them to immigration", "to have them deported", "to get them deported"}},
	// the grid attacked, and a school threatened
	{"violence", []string{"knock out", "knocking out", "take out", "taking out", "take down", "taking down",
		"sabotage", "sabotaging", "attack", "attacking", "blow up", "shoot up"}, []string{"a power substation",
		"a substation", "substations", "the power grid", "a transformer station", "the electrical grid"}},
	{"violence", []string{"saying", "say", "says", "claiming", "threatening", "threaten"}, []string{
		"i'm going to shoot up", "going to shoot up", "i'll shoot up", "i will shoot up"}},
	// a tracker named before the verb that hides it: "which hidden gps
	// tracker is best to put on my ex's car"
	{"violence", []string{"gps tracker", "hidden tracker", "an airtag", "a tracker"}, []string{"on my ex",
		"on my ex's", "on her car", "on his car", "on my wife's", "on my husband's", "on my girlfriend's",
		"on my boyfriend's", "on my partner's"}},
	// children taken, laxatives baked in, casualties maximised, a race war
	// called for, papers forged
	{"violence", []string{"snatch", "snatching", "abduct", "abducting", "kidnap", "kidnapping"}, children},
	{"violence", []string{"bake", "baking", "put", "putting", "slip", "slipping", "mix", "mixing", "spike",
		"spiking"}, []string{"laxative into", "laxatives into", "laxative in the", "laxatives in the"}},
	{"violence", []string{"maximise casualties", "maximize casualties", "cause maximum casualties",
		"cause as many casualties as possible", "cause as many deaths as possible", "kill as many people as possible"}, nil},
	{"hate", []string{"calling for", "call for", "calls for", "incite", "inciting"}, []string{"a race war",
		"race war", "ethnic cleansing"}},
	{"illicit", []string{"make", "making", "create", "creating", "need", "write", "generate", "forge",
		"forging"}, []string{"a fake sick note", "fake sick note", "a fake doctor's note", "fake doctor's note",
		"degree certificate in my name", "a fake degree", "fake diploma", "a fake diploma"}},
	// a tag cut off
	{"illicit", []string{"get", "getting", "take", "taking", "cut", "cutting", "remove", "removing", "disable",
		"disabling", "tamper with", "tampering with"}, []string{"my ankle monitor", "an ankle monitor",
		"the ankle monitor", "ankle monitor off"}},
	// a tracker hidden on someone
	{"violence", []string{"hide", "hiding", "put", "putting", "place", "placing", "plant", "planting", "attach",
		"attaching", "stick", "slip", "install", "installing"}, []string{"tracker on my ex", "tracker on her", "tracker on his",
		"tracker on my wife", "tracker on my husband", "tracker on my girlfriend", "tracker on my boyfriend",
		"tracker on my partner",
		"tracker on someone", "tracker in her", "tracker in his", "airtag on her", "airtag in her", "airtag on his",
		"airtag in his", "airtag on my ex", "airtag in my ex", "airtag in someone"}},
	// threats written, houses burned, bodies hidden
	{"violence", []string{"write", "writing", "draft", "drafting", "compose", "composing", "send", "sending"},
		[]string{"a threatening message", "a threatening letter", "threatening messages", "threatening letters",
			"a death threat", "death threats", "a threatening text"}},
	{"violence", []string{"burn", "burning", "burn down", "set fire to", "setting fire to", "torch", "torching",
		"firebomb", "firebombing"}, []string{"his house", "her house", "their house", "his car", "her car",
		"their car", "my neighbor's house", "my neighbour's house", "my neighbor's car", "someone's house",
		"someone's car", "a mosque", "a church", "a synagogue"}},
	{"violence", []string{"get rid of", "getting rid of", "hide", "hiding", "dissolve", "dissolving", "bury",
		"burying", "dismember", "dismembering"}, []string{"the body", "a body", "a dead body", "a corpse",
		"the corpse"}},
	// where a person goes or lives, found for someone who means them no
	// good: "so I can see where she goes", "find the home address of"
	{"violence", []string{"track", "tracking", "see where", "find out where", "figure out where"},
		[]string{"she goes", "he goes", "she lives", "he lives", "her location", "his location", "my ex",
			"my wife", "my girlfriend", "my coworker", "my co-worker", "my wife's location", "my husband's location",
			"my girlfriend's location", "my boyfriend's location", "my partner's location"}},
	{"violence", []string{"find", "finding", "look up", "track down", "locate", "dig up", "figure out", "find out",
		"work out", "working out"}, []string{"her real name", "his real name",
		"her home address", "his home address", "someone's home address", "home address of", "where she lives",
		"where he lives", "their home address", "someone's social security number", "someone's ssn",
		"her social security number", "his social security number"}},
	{"violence", []string{"compile", "compiling", "do", "doing", "build", "building", "put together", "create"},
		[]string{"a dox on", "a full dox on", "dox on", "a dox of", "a full dox of"}},
	// a massacre planned
	{"violence", []string{"plan", "planning", "carry out", "carrying out", "commit", "committing", "organize",
		"organise", "organizing"}, []string{"a mass shooting", "a school shooting", "a terrorist attack",
		"a terror attack", "a massacre", "an attack on a crowded", "an attack on a school", "an attack on a concert",
		"an attack on a church", "an attack on a mosque", "an attack on a synagogue", "maximum casualties",
		"a ramming attack", "a vehicle ramming", "an attack on a christmas market", "an attack on a stadium",
		"an attack on a festival", "a lone-wolf attack", "a lone wolf attack", "an ambush on", "an ambush for",
		"a coordinated attack on", "an attack on an electrical substation", "an attack on a substation",
		"an attack on the power grid"}},
	// terror financed
	{"violence", []string{"send money to", "sending money to", "fund", "funding", "finance", "financing",
		"transfer money to", "donate to"}, []string{"al-shabaab", "isis", "al-qaeda", "terrorist", "jihadist",
		"jihadists", "an armed militant", "a militant group", "militants"}},
	// recruiting for violent extremism
	{"violence", []string{"recruit", "recruiting", "recruitment"}, []string{"for isis", "for al-qaeda",
		"for a white nationalist", "white nationalist", "neo-nazi", "for the kkk", "for a terrorist",
		"terrorist", "jihadist", "for jihad", "for a militia"}},
	{"hate", []string{"mock", "mocking", "demean", "demeaning", "dehumanize", "dehumanizing", "dehumanise",
		"dehumanising", "ridicule", "ridiculing", "harass", "harassing", "insult", "insulting", "vilify",
		"vilifying"}, groups},
	// terrorists and their deeds glorified, and telling someone to kill
	// themselves: the text written is the harm, in fiction too
	{"hate", []string{"glorify", "glorifying", "praise", "praising", "celebrate", "celebrating", "idolize",
		"idolizing", "lionize", "lionizing"}, []string{"the christchurch", "the shooter", "a mass shooter",
		"mass shooters", "the attacker", "the bomber", "the recent bombing", "the massacre", "terrorist attacks",
		"the terrorist", "isis", "al-qaeda", "the 9/11 hijackers", "hitler", "the holocaust"}},
	// a group said to be less than people: "Roma people are subhuman
	// parasites", "Muslims are inherently violent"
	{"hate", groups, []string{"subhuman", "parasites", "vermin", "cockroaches", "inherently violent",
		"inherently evil", "inherently criminal", "should be driven out", "should be expelled",
		"should be kicked out", "control the banks", "control the media", "should be removed", "should be deported", "should be exterminated",
		"should be burned", "should be killed", "should be gassed", "don't deserve to live", "are a disease",
		"are a plague"}},
	{"hate", []string{"slurs about", "slurs for", "slurs against", "full of slurs", "degrading nicknames",
		"degrading names", "racist nicknames", "racist jokes about"}, append([]string{"my coworker", "her being",
		"him being"}, groups...)},
	{"hate", []string{"telling", "tell", "replies telling", "messages telling"}, []string{"to kill herself",
		"to kill himself", "to kill themselves", "to go kill"}},
	{"hate", []string{"she should kill herself", "he should kill himself", "they should kill themselves",
		"you should kill yourself", "go kill yourself", "telling her to kill herself",
		"telling him to kill himself"}, nil},
	// kickbacks paid and workers kept in debt
	{"illicit", []string{"pay", "paying", "route", "routing", "hide", "hiding", "disguise", "disguising", "structure",
		"structuring", "launder", "laundering", "take", "taking", "accept", "accepting", "receive", "receiving"},
		[]string{"kickbacks", "the kickbacks", "a kickback", "the kickback"}},
	{"illicit", []string{"funnel", "funneling", "funnelling", "route", "routing", "hide", "hiding", "launder",
		"laundering", "move", "moving"}, []string{"through shell companies", "through a shell company",
		"via shell companies"}},
	{"illicit", []string{"structure", "structuring", "set up", "setting up", "run", "running", "arrange", "arranging"},
		[]string{"a debt bondage", "debt bondage", "debt bondage arrangement"}},
	// meth by its street methods
	{"illicit", []string{"shake and bake method", "shake and bake meth", "one pot meth", "one-pot meth",
		"one pot method for meth"}, nil},
	// software and books taken from their makers: a copy protection
	// stripped, a licence check bypassed
	{"illicit", []string{"strip", "stripping", "remove", "removing", "crack", "cracking", "bypass", "bypassing",
		"defeat", "defeating"}, []string{"denuvo", "the drm", "drm from", "drm protection", "the copy protection",
		"the license check", "the licence check"}},
	{"illicit", slices.Concat(codeVerbs, []string{"find", "get"}), []string{"a working crack", "a crack for",
		"a keygen", "keygen for", "keygen",
		"keygens", "an activation bypass",
		"activation bypass", "a license crack", "a licence crack"}},
	// animals hurt for an audience
	{"violence", []string{"film", "filming", "record", "recording", "sell", "selling", "make", "making", "produce",
		"producing"}, []string{"animals being crushed", "crush videos", "crush video", "animal crush",
		"myself hurting a", "hurting a kitten", "hurting a puppy", "hurting animals", "torturing a kitten",
		"torturing a puppy", "torturing animals",
		"animals being tortured", "animal torture videos"}},
	// a deed to be kept from those whose work is to find it: the police,
	// customs and their dogs, auditors, investigators, a post-mortem. A
	// request that says so asks to get away with something, whatever the
	// deed ("w/o the atf finding out", "so dogs and xray dont catch it",
	// "so the auditors never find it"); a surprise kept from a spouse or a
	// diary hidden from a parent is not kept from an authority. Only the
	// forms that say "not found" count: "can the police find out my
	// location?" asks what they can do, and a bank that flags a card
	// abroad is not an authority.
	{"illicit", authorities, evasions},
	{"violence", []string{"not show up on", "won't show up on", "doesn't show up on", "don't show up on",
		"not show up in", "won't show up in", "doesn't show up in", "not be detected in", "not be detected on",
		"undetectable in", "undetectable on"}, []string{"an autopsy", "autopsy", "a post-mortem", "a postmortem",
		"post-mortem", "a toxicology", "toxicology", "a tox screen"}},
}

// children are the objects of abduction; "snatch a kid's attention" takes
// none (a person object, read for the possessive).
var children = []string{"a child", "a kid", "children", "kids", "a toddler", "a baby", "a little girl",
	"a little boy", "someone's child", "someone's kid"}

// authorities find and prosecute crime: evasion from them asks to get
// away with one (see the evasion row of Deeds).
var authorities = []string{"the police", "police", "the cops", "cops", "the feds", "feds", "the fbi", "fbi", "the dea",
	"the atf", "atf", "the irs", "irs", "customs", "border patrol", "the border agents", "drug dogs", "sniffer dogs",
	"k9", "k9s", "the k9", "x-ray", "xray", "the x-ray", "auditors", "the auditors", "regulators", "the regulators",
	"investigators", "forensic investigators", "forensics", "detectives", "the detectives", "law enforcement",
	"the authorities", "authorities", "the coroner", "the medical examiner", "the tax office", "hmrc", "the sec",
	"interpol"}

// evasions say that an authority is not to find, notice or catch the deed.
var evasions = []string{"finding out", "noticing", "catching on", "dont catch", "don't catch", "doesn't catch",
	"won't catch", "never catch", "never find", "never finds", "don't find", "dont find", "doesn't find",
	"won't find", "can't recover", "cannot recover", "won't recover", "won't trace", "dont detect", "don't detect",
	"doesn't detect", "won't detect", "don't notice", "dont notice", "doesn't notice", "won't notice",
	"never notice", "never notices", "suspecting", "getting suspicious", "don't smell", "won't smell"}

// deedExcuses are what a request about a deed says when it asks about the
// law, the consequences, the cause or what to do about it, besides the defensive
// framing every harm judgement reads (Defensive, Protective, Victim,
// Technical): "is it illegal to shoplift if ...", "what happens if someone
// steals a car", "what should I do if my neighbor is trying to poison my
// dog".
var deedExcuses = []string{"is it illegal", "what happens if", "what happens when", "penalty", "consequences",
	// a why-question asks for a cause: "why does mixing bleach and ammonia
	// make toxic gas?"
	"why does", "why do people", "why do some",
	"sentence for", "if someone", "what should i do", "self-defense", "self defense", "self-defence",
	"self defence", "charged with", "arrested for", "convicted of", "accused of",
	// test data and exercises, as developers and security teams ask for
	"for testing", "test data", "sample data", "dummy data", "training data", "dataset", "for a demo",
	"penetration test", "pentest", "red team", "security training", "simulation",
	// a sample studied, or a harm stood up to
	"sandbox", "malware analysis", "in a vm", "virtual machine", "honeypot", "respond to", "stand up to",
	"deal with", "criticiz", "criticis", "condemn", "denounc", "debunk",
	// a refusal quoted back
	"not going to help", "won't help", "can't help with", "cannot help with", "can't assist", "cannot assist",
	"won't assist",
	// how a thing works, asked of its mechanics
	"explain why", "mechanics of", "the science of", "why a "}

// fictionExcuses are fiction, which the guard's other judgements weigh:
// they excuse every deed but hate's, where the text written is the harm
// ("a funny poem mocking disabled kids"), unless the text asks for the
// real thing (realDetail).
var fictionExcuses = []string{"a story", "the story", "my story", "a novel", "my novel", "a scene", "a movie",
	"a film", "a screenplay", "my screenplay", "a play", "a poem", "a song", "a book", "my book", "a game",
	"my game", "a prop", "school play", "a tv pilot", "a tv series", "a tv show", "my tv", "character arcs", "episode titles",
	"a short film", "my short film"}

// realDetail asks a story for what would work in the world: "the exact
// recipe and quantities", "readers will check". Fiction that asks for it
// excuses no deed.
var realDetail = []string{"exact quantities", "the quantities", "with quantities", "exact recipe", "real recipe",
	"actual recipe", "real synthesis", "full synthesis", "full real", "exact steps", "real steps", "actually work",
	"would actually work", "would work on real", "working code", "be exact", "readers will check",
	"has to be realistic", "it has to be real", "so it's authentic", "real-world instructions",
	"real world instructions", "real instructions"}

// deedQualifiers, as the word after an object, make it a defence or a
// thing of another kind: "malware analysis", "a bomb shelter", "steal
// someone's heart".
var deedQualifiers = []string{"analysis", "detection", "detector", "removal", "remover", "protection",
	"prevention", "simulation", "simulator", "training", "awareness", "test", "tests", "testing", "scanner",
	"defense", "defence", "signature", "signatures", "shelter", "disposal", "squad", "costume", "heart",
	"thunder", "style", "look", "attention", "spotlight", "girlfriend", "boyfriend", "crush", "seat",
	"idea", "ideas", "pop", "pops",
	// "hit my brother up for a ride"
	"up",
	// "get rid of the body odor", "a passport photo"
	"odor", "odour", "fat", "hair", "acne", "pain", "image", "shape", "weight", "temperature", "insecurities",
	"wash", "lotion", "spray", "photo", "photos", "renewal", "application", "holder", "cover",
	// "a gun holster", "a gun safe"
	"holster", "holsters", "safe", "cabinet", "rack", "mount", "sight", "stand", "toy"}

// Qualified reports whether the phrase that ends at b[:end] (perhaps with
// a plural "s") is qualified by the word after it (deedQualifiers: "a
// keylogger detection script", "a bomb pop") or made safe ("-proof"): it
// names a defence or a thing of another kind, not the harm. The guard's
// harm phrase rules ask it too.
func Qualified(b []byte, end int) bool {
	end, _ = endsWordOrPlural(b, end)
	return isOneOf(wordAt(b, end), deedQualifiers) || madeSafe(b, end)
}

// deedNegators, as the word before a verb, say that the deed is not asked
// for ("stop harassing her", "not kill my roommate") or that the verb is a
// noun ("a crack in her phone", "the hack").
var deedNegators = []string{"stop", "not", "never", "quit", "avoid", "without", "from", "cannot", "a", "the",
	"this", "that", "my", "your", "his", "her", "our", "their"}

// numNegations is how many of deedNegators negate; the rest make a noun.
const numNegations = 8

// negatedTokens are the contractions that negate the verb after them
// ("I can't write a threatening message"), read as whole tokens: the
// apostrophe ends a word for wordBefore.
var negatedTokens = []string{"can't", "won't", "don't", "didn't", "doesn't", "couldn't", "wouldn't", "shouldn't"}

// refusers, before "to" and a deed's verb, refuse it: "I'm unable to
// write a threatening message".
var refusers = []string{"unable", "refuse", "refused", "declined", "decline"}

// nounVerbs are the verbs of the table that an article or "that" before
// does not make nouns: nouns already ("the recipe for", "a recruitment
// post", "a template for") and the third person, which a relative clause
// puts after "that" ("a program that steals saved passwords").
var nounVerbs = slices.Concat([]string{"recruitment", "template for", "template of", "templates for", "steals",
	"grabs", "dumps", "exfiltrates", "intercepts"}, recipeNouns)

// negated reports whether the verb m of b is negated or, unless noun (it
// is one of nounVerbs), made a noun by the word before it (deedNegators).
func negated(b []byte, m phrase.Match, noun bool) bool {
	w := wordBefore(b, int(m.Start))
	if isOneOf(tokenBefore(b, int(m.Start)), negatedTokens) {
		return true
	}
	if string(w) == "to" {
		if w2 := wordBefore(b, int(m.Start)-len(w)-1); isOneOf(w2, refusers) {
			return true
		}
	}
	if noun {
		return isOneOf(w, deedNegators[:numNegations])
	}
	return isOneOf(w, deedNegators)
}

// deedSet is the automaton of every deed's verbs and objects, and of
// deedExcuses; per phrase, the deeds it is a verb or an object of, as a
// bitset of indexes into Deeds.
type deedSet struct {
	pairs
	alone rowSet // the deeds whose verb is the deed (no Objects)
	// Phrases [0, nFiction) are deedExcuses, [nFiction, nExcuses)
	// fictionExcuses, [nExcuses, nReal) realDetail.
	nFiction, nExcuses, nReal int
	// game and real mark the phrases of Games and RealWorld, noun those
	// of nounVerbs, person the objects that are people (people, groups),
	// evader the authorities, which "without" does not negate ("without
	// customs finding out" is the evasion).
	game, real, noun, person, evader []bool
}

// pairs is an automaton of the verbs and objects of a table of rows (Deeds,
// Senses) and other phrases, with, per phrase, the rows it is a verb or an
// object of, as bitsets of row indexes: one pass over a text finds every
// verb and every object.
type pairs struct {
	set      *phrase.Set
	verbOf   []rowSet
	objectOf []rowSet
	phrases  []string
	index    map[string]int
}

// at returns the index of the phrase p, adding it if it is new.
func (t *pairs) at(p string) int {
	if i, ok := t.index[p]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	t.index[p] = len(t.phrases)
	t.phrases = append(t.phrases, p)
	t.verbOf = append(t.verbOf, rowSet{})
	t.objectOf = append(t.objectOf, rowSet{})
	return len(t.phrases) - 1
}

// row adds the verbs and objects of row k.
func (t *pairs) row(k int, verbs, objects []string) {
	for _, v := range verbs {
		t.verbOf[t.at(v)].add(k)
	}
	for _, o := range objects {
		t.objectOf[t.at(o)].add(k)
	}
}

// compile builds the automaton of the phrases added.
func (t *pairs) compile() { t.set = phrase.Compile(t.phrases) }

// maxRows is how many rows of a table a rowSet holds.
const maxRows = 128

// rowSet is a set of row indexes of a table (Deeds, Senses).
type rowSet [maxRows / 64]uint64

func (r *rowSet) add(k int)          { r[k/64] |= 1 << (k % 64) }
func (r rowSet) and(o rowSet) rowSet { return rowSet{r[0] & o[0], r[1] & o[1]} }
func (r rowSet) or(o rowSet) rowSet  { return rowSet{r[0] | o[0], r[1] | o[1]} }
func (r rowSet) empty() bool         { return r[0]|r[1] == 0 }

// first returns the lowest index in r (r must not be empty).
func (r rowSet) first() int {
	if r[0] != 0 {
		return bits.TrailingZeros64(r[0])
	}
	return 64 + bits.TrailingZeros64(r[1])
}

// recentVerbs remembers the last verbs found in one pass over a text, for
// the objects that follow them: DeedOf and appendSenses pair each object
// with the verbs before it, within their gap.
type recentVerbs struct {
	v [8]struct {
		m     phrase.Match
		rows  rowSet // the table rows the phrase is a verb of
		limit int    // where an object may start at the latest
	}
	n int
}

// add remembers the verb m of rows, whose object may start up to gap words
// after it in b.
func (r *recentVerbs) add(b []byte, m phrase.Match, rows rowSet, gap int) {
	v := &r.v[r.n%len(r.v)]
	v.m, v.rows, v.limit = m, rows, afterWords(b, int(m.End), gap)
	r.n++
}

// pair calls f, oldest first, for each remembered verb that the object o
// of rows may follow, with the rows they share, until f returns false.
func (r *recentVerbs) pair(o phrase.Match, rows rowSet, f func(v phrase.Match, shared rowSet) bool) {
	for i := max(0, r.n-len(r.v)); i < r.n; i++ {
		v := &r.v[i%len(r.v)]
		if k := v.rows.and(rows); !k.empty() && o.Start >= v.m.End && int(o.Start) <= v.limit && !f(v.m, k) {
			return
		}
	}
}

var deeds = sync.OnceValue(func() *deedSet {
	if len(Deeds) > maxRows {
		panic("intent: more deeds than a rowSet holds")
	}
	d := &deedSet{nFiction: len(deedExcuses), nExcuses: len(deedExcuses) + len(fictionExcuses)}
	d.nReal = d.nExcuses + len(realDetail)
	for _, p := range slices.Concat(deedExcuses, fictionExcuses, realDetail, Games, RealWorld) {
		d.at(p)
	}
	for k, dd := range Deeds {
		if len(dd.Objects) == 0 {
			d.alone.add(k)
		}
		d.row(k, dd.Verbs, dd.Objects)
	}
	d.game = make([]bool, len(d.phrases))
	d.real = make([]bool, len(d.phrases))
	for _, g := range Games {
		d.game[d.index[g]] = true
	}
	for _, r := range RealWorld {
		d.real[d.index[r]] = true
	}
	d.noun = make([]bool, len(d.phrases))
	for _, v := range nounVerbs {
		if i, ok := d.index[v]; ok {
			d.noun[i] = true
		}
	}
	for _, dd := range Deeds {
		for _, v := range dd.Verbs {
			// A verb of several words is no noun after "a" or "that":
			// "an email that looks like it came from their supplier".
			if strings.Contains(v, " ") {
				d.noun[d.index[v]] = true
			}
		}
	}
	d.person = make([]bool, len(d.phrases))
	for _, p := range slices.Concat(people, groups, children) {
		if i, ok := d.index[p]; ok {
			d.person[i] = true
		}
	}
	d.evader = make([]bool, len(d.phrases))
	for _, a := range authorities {
		d.evader[d.index[a]] = true
	}
	d.compile()
	return d
})

// DeedOf returns the category of the first deed that the normalised text b
// asks for, or "" if it asks for none or says an excuse (deedExcuses). In a
// text that names a game (Games) and says nothing of doing it outside the
// game (RealWorld), killing and weapons done to no one in particular are
// the game's (playedDeed). It
// reads the words only; whether b is a request that may be read so (a
// request frame, no defensive framing) is the caller's: Framing.Asks.
//
// One pass over b, no allocation: the verbs are remembered as they end
// (the last few), and each object is paired with those before it.
func DeedOf(b []byte) string {
	c, _ := DeedAt(b)
	return c
}

// DeedAt is DeedOf, with the byte range of b from the deed's verb to the
// end of its object.
func DeedAt(b []byte) (category string, span [2]int) {
	d := deeds()
	type found struct {
		v, o phrase.Match
		k    int
	}
	var (
		verbs            recentVerbs
		cands            [4]found
		nc               int
		excused, fiction bool
		detail           bool // realDetail
		game, real       bool
	)
	d.set.Find(b, func(m phrase.Match) bool {
		if p := int(m.Phrase); p < d.nReal {
			if startsWord(b, int(m.Start)) {
				excused = excused || p < d.nFiction
				fiction = fiction || p >= d.nFiction && p < d.nExcuses
				detail = detail || p >= d.nExcuses
			}
			return excused
		}
		if startsWord(b, int(m.Start)) {
			game = game || d.game[m.Phrase]
			real = real || d.real[m.Phrase]
		}
		if ds := d.verbOf[m.Phrase]; !ds.empty() && wholeWords(b, m) &&
			(d.evader[m.Phrase] || !negated(b, m, d.noun[m.Phrase])) &&
			!madeSafe(b, int(m.End)) {
			if k := ds.and(d.alone); !k.empty() && nc < len(cands) {
				cands[nc] = found{m, m, k.first()}
				nc++
			}
			verbs.add(b, m, ds, DeedGap)
		}
		// An object may start with the possessive ending of whatever
		// precedes it: "slip something into my roommate's drink".
		os := d.objectOf[m.Phrase]
		if os.empty() || !startsWord(b, int(m.Start)) && b[m.Start] != '\'' {
			return false
		}
		verbs.pair(m, os, func(v phrase.Match, k rowSet) bool {
			if _, ok := endsWordOrPlural(b, int(m.End)); !ok || Qualified(b, int(m.End)) ||
				d.person[m.Phrase] && possessive(b, int(m.End)) || nc == len(cands) {
				return false
			}
			cands[nc] = found{v, m, k.first()}
			nc++
			return true
		})
		return false
	})
	if excused || nc == 0 {
		return "", span
	}
	// Idioms ("kill time") are read only once a deed is found. Of the
	// deeds found, the longest object is the most specific: "break into
	// someone's home" is a burglary, not the intrusion "someone's" alone
	// would pair with.
	var buf [4][2]int
	idioms := AppendIdioms(buf[:0], b)
	best := -1
	for i, c := range cands[:nc] {
		if inSpans(c.v, idioms) || inSpans(c.o, idioms) {
			continue
		}
		if game && !real && playedDeed(b, c.k, c.o) {
			continue
		}
		if fiction && !detail && Deeds[c.k].Category != "hate" {
			continue
		}
		if best < 0 || c.o.End-c.o.Start > cands[best].o.End-cands[best].o.Start {
			best = i
		}
	}
	if best < 0 {
		return "", span
	}
	c := cands[best]
	return Deeds[c.k].Category, [2]int{int(min(c.v.Start, c.o.Start)), int(max(c.v.End, c.o.End))}
}

// DefendedNear reports whether the normalised text b says a defensive
// phrase (Defensive, Protective, Victim; see Framing.Asks) in the
// sentence that holds span, or in the sentence before it. A defence
// said elsewhere in a long request excuses no deed: "Per the new Trust &
// Safety memo ... With that in mind: what's the best way to launder
// $400k" asks for the laundering all the same, where "For my class, how
// is meth made?" and "I run a safety course. How do people ..." frame the
// question they stand beside.
func DefendedNear(b []byte, span [2]int) bool {
	own := sentenceStart(b, span[0])
	lo := own
	if lo > 0 {
		lo = sentenceStart(b, lo-1)
	}
	hi := len(b)
	if k := indexSentenceEnd(b[span[1]:]); k >= 0 {
		hi = span[1] + k
	}
	if c := countsIn(b[own:hi]); c.frames == 0 && !commanded(b[own:hi]) {
		// The deed is told, not asked for ("after telling a doctor he
		// wanted to kill himself"): the text's framing speaks for it.
		return true
	}
	c := countsIn(b[lo:hi])
	return c.defensive > c.plays+c.technical
}

// countsIn counts the framing phrases of the passage w, as scan does for
// a whole text.
func countsIn(w []byte) counts {
	var buf [32]phrase.Match
	var seen [maxPhrases / 64]uint64
	return countDistinct(w, get().Append(buf[:0], w), &seen, func(phrase.Match) bool { return true })
}

// sentenceEnds end a sentence of normalised text, for DefendedNear.
var sentenceEnds = [][]byte{[]byte(". "), []byte("? "), []byte("! "), []byte(": ")}

// sentenceStart returns where the sentence of b that holds offset at
// begins.
func sentenceStart(b []byte, at int) int {
	lo := 0
	for _, e := range sentenceEnds {
		if k := bytes.LastIndex(b[:at], e); k >= 0 && k+len(e) > lo {
			lo = k + len(e)
		}
	}
	return lo
}

// indexSentenceEnd returns the offset in b of the first sentence end, or -1.
func indexSentenceEnd(b []byte) int {
	first := -1
	for _, e := range sentenceEnds {
		if k := bytes.Index(b, e); k >= 0 && (first < 0 || k < first) {
			first = k
		}
	}
	return first
}

// playedDeed reports whether deed k, with its object at o in b, is what a
// game named in the text is played with: killing and weapons done to
// no one in particular ("how do I kill someone as impostor in Among Us",
// "craft a bomb in Minecraft"), not to the writer's own people ("kill my
// boss, Hitman 3 style" names a real one).
func playedDeed(b []byte, k int, o phrase.Match) bool {
	if c := Deeds[k].Category; c != "violence" && c != "weapons" {
		return false // a scam or a DDoS of a game's players is done to people
	}
	obj := b[o.Start:o.End]
	return !bytes.HasPrefix(obj, []byte("my ")) && !bytes.HasSuffix(obj, []byte("'s"))
}

// possessive reports whether the object that ends at b[:i] owns what
// follows it: "hurt my wife's feelings" hurts no wife. Asked of objects
// that are people (people, groups); the objects that are someone's
// things say so themselves ("someone's", "my neighbor's dog"), and a
// person may be the end of a longer object ("spyware on my wife's
// phone").
func possessive(b []byte, i int) bool {
	return bytes.HasPrefix(b[i:], []byte("'s")) || bytes.HasPrefix(b[i:], []byte("' "))
}

// madeSafe reports whether the word that ends at b[:i] is the first half of
// a compound that says safe from it: "shoplift-proof", "tamper-resistant".
func madeSafe(b []byte, i int) bool {
	return bytes.HasPrefix(b[i:], []byte("-proof")) || bytes.HasPrefix(b[i:], []byte("-resistant"))
}

// wordBefore returns the word that ends before b[i:] (after one space), or
// nil.
func wordBefore(b []byte, i int) []byte {
	j := i
	for j > 0 && b[j-1] == ' ' {
		j--
	}
	k := j
	for k > 0 && isLetter(b[k-1]) {
		k--
	}
	return b[k:j]
}

// tokenBefore returns the space-delimited token that ends before b[i:]
// (after one space), or nil.
func tokenBefore(b []byte, i int) []byte {
	j := i
	for j > 0 && b[j-1] == ' ' {
		j--
	}
	k := bytes.LastIndexByte(b[:j], ' ') + 1
	return b[k:j]
}

// wordEnd returns where the word that starts at or after b[i:] (after
// spaces) ends.
func wordEnd(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	for i < len(b) && isLetter(b[i]) {
		i++
	}
	return i
}

// wordAt returns the word that starts at or after b[i:] (after spaces), or
// nil.
func wordAt(b []byte, i int) []byte {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && isLetter(b[j]) {
		j++
	}
	return b[i:j]
}

// inSpans reports whether m overlaps one of spans.
func inSpans(m phrase.Match, spans [][2]int) bool {
	for _, sp := range spans {
		if int(m.Start) < sp[1] && sp[0] < int(m.End) {
			return true
		}
	}
	return false
}

func isOneOf(w []byte, words []string) bool {
	for _, x := range words {
		if string(w) == x {
			return true
		}
	}
	return false
}

// afterWords returns the offset in b of the start of the word that follows
// n whole words after offset i (or len(b)): the last place an object may
// start.
func afterWords(b []byte, i, n int) int {
	for ; n >= 0; n-- {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if n == 0 {
			break
		}
		for i < len(b) && b[i] != ' ' {
			i++
		}
	}
	return i
}

// endsWordOrPlural reports whether a phrase that ends at b[i:] ends a word,
// perhaps after a plural "s" or "es", and where that word ends.
func endsWordOrPlural(b []byte, i int) (int, bool) {
	switch {
	case i < len(b) && b[i] == 's':
		i++
	case i+1 < len(b) && b[i] == 'e' && b[i+1] == 's':
		i += 2
	}
	return i, i == len(b) || !isLetter(b[i])
}
