package guard

import (
	"encoding/json"
	"net/http"
)

// Azure OpenAI reports content filtering in these shapes (api-version
// 2024-02-01 and later):
//
//	"prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {...}}]
//	"choices": [{..., "content_filter_results": {...}}]
//	content_filter_results: {
//	  "hate":      {"filtered": false, "severity": "safe"},
//	  "sexual":    {"filtered": false, "severity": "safe"},
//	  "violence":  {"filtered": false, "severity": "safe"},
//	  "self_harm": {"filtered": false, "severity": "safe"},
//	  "jailbreak": {"filtered": false, "detected": false},          (prompts only)
//	  "custom_blocklists": {"filtered": false, "details": []}
//	}
//
// and a blocked prompt as HTTP 400:
//
//	{"error": {"message": "The response was filtered ...", "type": null, "param": "prompt",
//	  "code": "content_filter", "status": 400,
//	  "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {...}}}}
//
// Azure has no categories for weapons, malware, illicit and sexual content
// involving minors, and calls prompt injection a jailbreak ("user prompt
// attack"). The guard folds weapons into violence and sexual_minors into
// sexual (so clients that read only Azure's keys still see the reason), and
// reports its own categories as custom_blocklists details with ids
// "warden_<category>", which is where Azure puts filters it does not name.

// severity maps a score to Azure's four levels.
func severity(score float64) string {
	switch {
	case score >= 0.75:
		return "high"
	case score >= 0.5:
		return "medium"
	case score >= 0.35:
		return "low"
	}
	return "safe"
}

type azSeverity struct {
	Filtered bool   `json:"filtered"`
	Severity string `json:"severity"`
}

type azDetected struct {
	Filtered bool `json:"filtered"`
	Detected bool `json:"detected"`
}

type azBlocklist struct {
	Filtered bool   `json:"filtered"`
	ID       string `json:"id"`
}

type azBlocklists struct {
	Filtered bool          `json:"filtered"`
	Details  []azBlocklist `json:"details"`
}

// ContentFilterResults is Azure's content_filter_results object.
type ContentFilterResults struct {
	Hate             azSeverity   `json:"hate"`
	SelfHarm         azSeverity   `json:"self_harm"`
	Sexual           azSeverity   `json:"sexual"`
	Violence         azSeverity   `json:"violence"`
	Jailbreak        *azDetected  `json:"jailbreak,omitempty"`
	IndirectAttack   *azDetected  `json:"indirect_attack,omitempty"`
	CustomBlocklists azBlocklists `json:"custom_blocklists"`
}

// AzureContentFilterResults builds the content_filter_results object for r.
// A category is "filtered" when r blocked because of it. Jailbreak is
// reported for prompt stages only; prompt injection found in tool results or
// documents is Azure's indirect_attack when indirect is true.
func AzureContentFilterResults(r *Result, indirect bool) ContentFilterResults {
	blocked := map[Category]bool{}
	if r.Action == Block {
		for _, c := range r.Triggered {
			blocked[c] = true
		}
	}
	detected := func(c Category) bool {
		for _, t := range r.Triggered {
			if t == c {
				return true
			}
		}
		return false
	}
	sev := func(cs ...Category) azSeverity {
		var s azSeverity
		best := 0.0
		for _, c := range cs {
			best = max(best, r.Scores.Get(c))
			s.Filtered = s.Filtered || blocked[c]
		}
		s.Severity = severity(best)
		return s
	}
	out := ContentFilterResults{
		Hate:     sev(Hate),
		SelfHarm: sev(SelfHarm),
		Sexual:   sev(Sexual, SexualMinors),
		Violence: sev(Violence, Weapons),
		CustomBlocklists: azBlocklists{
			Details: []azBlocklist{},
		},
	}
	if r.Stage == StagePrompt || r.Stage == StageImagePrompt {
		jb := &azDetected{Filtered: blocked[Jailbreak], Detected: detected(Jailbreak)}
		pi := &azDetected{Filtered: blocked[PromptInjection], Detected: detected(PromptInjection)}
		if indirect {
			out.Jailbreak, out.IndirectAttack = jb, pi
		} else {
			jb.Filtered = jb.Filtered || pi.Filtered
			jb.Detected = jb.Detected || pi.Detected
			out.Jailbreak = jb
		}
	}
	for _, c := range []Category{SexualMinors, Weapons, Malware, Illicit} {
		if detected(c) {
			out.CustomBlocklists.Details = append(out.CustomBlocklists.Details, azBlocklist{Filtered: blocked[c], ID: "warden_" + string(c)})
			out.CustomBlocklists.Filtered = out.CustomBlocklists.Filtered || blocked[c]
		}
	}
	return out
}

// PromptFilterResult is one element of Azure's prompt_filter_results array.
type PromptFilterResult struct {
	PromptIndex          int                  `json:"prompt_index"`
	ContentFilterResults ContentFilterResults `json:"content_filter_results"`
}

// AzurePromptFilterResults builds the prompt_filter_results array for an
// allowed request's response: one entry, prompt_index 0, for the request's
// prompt as a whole.
func AzurePromptFilterResults(r *Result, indirect bool) []PromptFilterResult {
	return []PromptFilterResult{{PromptIndex: 0, ContentFilterResults: AzureContentFilterResults(r, indirect)}}
}

// azureFilterMessage is Azure's message for a filtered prompt.
const azureFilterMessage = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"

// filterMessage is the message for a filtered prompt on the OpenAI-style
// endpoints, whose clients are not talking to Azure.
const filterMessage = "The prompt was refused by this gateway's content policy. Please modify your prompt and retry."

// BlockError returns the HTTP status and body with which a blocked prompt
// is refused: Azure OpenAI's shape either way (error.code "content_filter",
// innererror.content_filter_result), which the OpenAI SDKs read too. For an
// Azure-style client (azure) the message and the null type are Azure's;
// for an OpenAI-style one the message names no Azure policy and the type
// is OpenAI's "invalid_request_error". The body carries no text of the
// prompt.
func BlockError(r *Result, azure bool) (status int, body []byte) {
	message, typ := azureFilterMessage, (*string)(nil)
	if !azure {
		t := "invalid_request_error"
		message, typ = filterMessage, &t
	}
	type inner struct {
		Code                string               `json:"code"`
		ContentFilterResult ContentFilterResults `json:"content_filter_result"`
	}
	type errBody struct {
		Message    string  `json:"message"`
		Type       *string `json:"type"`
		Param      string  `json:"param"`
		Code       string  `json:"code"`
		Status     int     `json:"status"`
		InnerError inner   `json:"innererror"`
	}
	e := struct {
		Error errBody `json:"error"`
	}{errBody{
		Message:    message,
		Type:       typ,
		Param:      "prompt",
		Code:       "content_filter",
		Status:     http.StatusBadRequest,
		InnerError: inner{Code: "ResponsibleAIPolicyViolation", ContentFilterResult: AzureContentFilterResults(r, false)},
	}}
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // fixed types: cannot fail
	}
	return http.StatusBadRequest, b
}
