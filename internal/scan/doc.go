// Package scan finds leaked secrets in text: Warden's own keys and the
// provider credentials LLMjacking runs on (Azure OpenAI, OpenAI, Anthropic,
// AWS, Google, ...), before an attacker's scraper does.
//
// # How a scan works
//
// Rules are data (builtin.toml, plus any --rules FILE). All keywords of all
// rules go into one keyword index, built once, matched ASCII
// case-insensitively: each keyword is anchored at its rarest pair of bytes,
// and one pass tests every pair of adjacent bytes of the text against a bit
// set of the anchors (see keywordIndex). The pass yields keyword hits; each
// rule's regular expression then runs only in a window of
// `reach` bytes around its keyword hits, widened to whole lines. A match is
// reported when it also passes the rule's checks, in this order: boundaries
// (no token character right before or after), an inline `warden:allow` on
// its line, the named validator (checksum or markers), the placeholder
// heuristics (skipped when a checksum validated it), `allow` expressions,
// `entropy`, `deny_before`, `context`, the evidence score (see
// EvidenceSpec) and the engine's minimum confidence, and `pair`.
//
// Input is read in 1 MiB chunks; each chunk is scanned with 16 KiB of the
// previous one before it and the next one after it, so memory is bounded on
// huge files and no match or context is lost at a border.
//
// Findings never carry a raw secret: only a redacted form (keys.Redact) and
// the SHA-256 fingerprint, which for a Warden key equals its stored hash.
//
// # Rules file format (TOML)
//
//	[[rule]]
//	id = "acme-token"                     # unique; letters, digits, - and _
//	description = "ACME API token"
//	keywords = ["acme_"]                  # required; >= 3 bytes each, case-insensitive
//	regex = 'acme_[a-z0-9]{32}'           # RE2; a group named "secret" narrows the secret
//	reach = 100                           # bytes around a keyword hit the regex may match in
//	boundary = 'A-Za-z0-9_-'              # bytes that must not touch the match (default shown)
//	validate = "github"                   # optional: warden, github, azure_annotated
//	entropy = 3.0                         # optional minimum Shannon bits per byte (default off)
//	allow = ['acme_0+']                   # matches that are never secrets
//	deny_before = 'request_id=$'          # drop a match when the text before it on its line matches
//	endpoint = 'https://[a-z]+\.acme\.io' # report the nearest match within 2000 bytes as endpoint
//	confidence = "high"                   # low, medium or high
//	revocation = "How the owner revokes it."
//
//	  [[rule.context]]                    # any number; the match needs one within distance
//	  regex = '(?i)acme'
//	  distance = 300                      # bytes either side; default reach
//	  confidence = "high"                 # the best context found sets the confidence
//
//	  [rule.score]                        # with evidence: the score sets the confidence
//	  high = 6                            # at least high: high; at least medium: medium;
//	  medium = 3                          # less: low (reported only with MinConfidence(Low))
//
//	  [[rule.evidence]]                   # any number; see EvidenceSpec
//	  where = "name"                      # name, before, near, path, repeat or crowd
//	  regex = '(?i)api[_-]?key$'
//	  weight = 4                          # negative weights count against
//	  label = "name:api-key"              # shown in the finding's evidence
//
//	  [rule.pair]                         # a second secret required nearby (AWS id + secret)
//	  regex = '[A-Za-z0-9/+]{40}'
//	  boundary = 'A-Za-z0-9/+='
//	  distance = 400                      # the fingerprint is of this part
//
// Unknown fields are errors; every error names its rule.
package scan
