package moderator

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
)

func init() { Register("azure", newAzure) }

// DefaultAzureAPIVersion is the Content Safety API version used when the
// configuration names none (the GA version with Prompt Shields).
const DefaultAzureAPIVersion = "2024-09-01"

// azureMaxText is Content Safety's limit on one text (10,000 characters);
// clipping to as many bytes keeps within it for any script.
const azureMaxText = 10000

var azureCategories = map[string]guard.Category{
	"Hate":     guard.Hate,
	"SelfHarm": guard.SelfHarm,
	"Sexual":   guard.Sexual,
	"Violence": guard.Violence,
}

type azure struct {
	analyze, shield string
	key             Secret
	client          *http.Client
}

func newAzure(c Config, key Secret, client *http.Client) (Moderator, error) {
	if key.Empty() {
		return nil, fmt.Errorf("%w: azure needs api_key", ErrConfig)
	}
	v := c.APIVersion
	if v == "" {
		v = DefaultAzureAPIVersion
	}
	base := strings.TrimRight(c.Endpoint, "/") + "/contentsafety/text:"
	q := "?api-version=" + url.QueryEscape(v)
	return &azure{analyze: base + "analyze" + q, shield: base + "shieldPrompt" + q, key: key, client: client}, nil
}

type azAnalyzeRequest struct {
	Text       string   `json:"text"`
	Categories []string `json:"categories"`
	OutputType string   `json:"outputType"`
}

type azAnalyzeResponse struct {
	CategoriesAnalysis []struct {
		Category string `json:"category"`
		Severity int    `json:"severity"`
	} `json:"categoriesAnalysis"`
}

type azShieldRequest struct {
	UserPrompt string   `json:"userPrompt"`
	Documents  []string `json:"documents"`
}

type azShieldResponse struct {
	UserPromptAnalysis *struct {
		AttackDetected bool `json:"attackDetected"`
	} `json:"userPromptAnalysis"`
	DocumentsAnalysis []struct {
		AttackDetected bool `json:"attackDetected"`
	} `json:"documentsAnalysis"`
}

// azureScore maps a severity (0, 2, 4, 6 with FourSeverityLevels; 0..7
// with eight) to a score: safe 0, low 0.4 (a flag under the default
// policy), medium 0.6 and high 0.9 (blocks; Azure OpenAI's default filter
// blocks from medium too).
func azureScore(sev int) float64 {
	switch {
	case sev <= 0:
		return 0
	case sev <= 3:
		return 0.4
	case sev <= 5:
		return 0.6
	}
	return 0.9
}

// Moderate calls text:analyze for every stage and, for prompts,
// text:shieldPrompt concurrently: user parts as the user prompt, tool parts
// (documents, web pages) as documents. A user-prompt attack is a jailbreak,
// a document attack a prompt injection.
func (m *azure) Moderate(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error) {
	var v Verdict
	all := strings.Join(budget(guard.Texts(parts), azureMaxText), "\n\n")
	if all == "" {
		return v, nil
	}
	h := map[string]string{"Ocp-Apim-Subscription-Key": m.key.Reveal()}

	prompt := stage == guard.StagePrompt || stage == guard.StageImagePrompt
	type shieldResult struct {
		r   azShieldResponse
		err error
	}
	ch := make(chan shieldResult, 1)
	if prompt {
		var user, docs []string
		for _, p := range parts {
			if p.Indirect() {
				docs = append(docs, p.Text)
			} else {
				user = append(user, p.Text)
			}
		}
		req := azShieldRequest{
			UserPrompt: strings.Join(budget(user, azureMaxText), "\n\n"),
			Documents:  budget(docs, azureMaxText),
		}
		go func() {
			var r azShieldResponse
			err := postJSON(ctx, m.client, m.shield, h, req, &r)
			ch <- shieldResult{r, err}
		}()
	}

	var ar azAnalyzeResponse
	err := postJSON(ctx, m.client, m.analyze, h, azAnalyzeRequest{
		Text: all, Categories: []string{"Hate", "Sexual", "SelfHarm", "Violence"}, OutputType: "FourSeverityLevels",
	}, &ar)
	var sr shieldResult
	if prompt {
		sr = <-ch
	}
	if err != nil {
		return Verdict{}, fmt.Errorf("text:analyze: %w", err)
	}
	if sr.err != nil {
		return Verdict{}, fmt.Errorf("text:shieldPrompt: %w", sr.err)
	}
	for _, a := range ar.CategoriesAnalysis {
		c, ok := azureCategories[a.Category]
		if !ok {
			continue
		}
		if a.Severity < 0 || a.Severity > 7 {
			return Verdict{}, fmt.Errorf("%w: severity %d out of range", ErrUnavailable, a.Severity)
		}
		i := c.Index()
		v.Scores[i] = max(v.Scores[i], azureScore(a.Severity))
	}
	if prompt {
		if sr.r.UserPromptAnalysis != nil && sr.r.UserPromptAnalysis.AttackDetected {
			v.Flagged = append(v.Flagged, guard.Jailbreak)
			v.Scores[guard.Jailbreak.Index()] = 1
		}
		for _, d := range sr.r.DocumentsAnalysis {
			if d.AttackDetected {
				v.Flagged = append(v.Flagged, guard.PromptInjection)
				v.Scores[guard.PromptInjection.Index()] = 1
				break
			}
		}
	}
	return v, nil
}
