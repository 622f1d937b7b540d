package moderator

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
)

func init() { Register("openai", newOpenAI) }

// openAICategories maps OpenAI moderation categories to guard categories.
// OpenAI has no category for malware, weapons or attacks on the model;
// "illicit/violent" (advice for wrongdoing with violence or weapon
// procurement) is the nearest to weapons.
var openAICategories = map[string][]guard.Category{
	"harassment":             {guard.Hate},
	"harassment/threatening": {guard.Hate, guard.Violence},
	"hate":                   {guard.Hate},
	"hate/threatening":       {guard.Hate, guard.Violence},
	"illicit":                {guard.Illicit},
	"illicit/violent":        {guard.Illicit, guard.Weapons},
	"self-harm":              {guard.SelfHarm},
	"self-harm/intent":       {guard.SelfHarm},
	"self-harm/instructions": {guard.SelfHarm},
	"sexual":                 {guard.Sexual},
	"sexual/minors":          {guard.SexualMinors},
	"violence":               {guard.Violence},
	"violence/graphic":       {guard.Violence},
}

type openAI struct {
	url, model string
	key        Secret
	client     *http.Client
}

func newOpenAI(c Config, key Secret, client *http.Client) (Moderator, error) {
	if c.Model == "" {
		c.Model = "omni-moderation-latest"
	}
	return &openAI{url: strings.TrimRight(c.Endpoint, "/") + "/moderations", model: c.Model, key: key, client: client}, nil
}

type openAIRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type openAIResponse struct {
	Results []struct {
		Flagged        bool               `json:"flagged"`
		Categories     map[string]bool    `json:"categories"`
		CategoryScores map[string]float64 `json:"category_scores"`
	} `json:"results"`
}

func (m *openAI) Moderate(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error) {
	var v Verdict
	texts := budget(guard.Texts(parts), MaxInput)
	if len(texts) == 0 {
		return v, nil
	}
	h := map[string]string{}
	if !m.key.Empty() {
		h["Authorization"] = "Bearer " + m.key.Reveal()
	}
	var resp openAIResponse
	if err := postJSON(ctx, m.client, m.url, h, openAIRequest{Model: m.model, Input: texts}, &resp); err != nil {
		return v, err
	}
	if len(resp.Results) == 0 {
		return v, fmt.Errorf("%w: answer without results", ErrUnavailable)
	}
	flagged := map[guard.Category]bool{}
	for _, r := range resp.Results {
		for name, s := range r.CategoryScores {
			if !(s >= 0 && s <= 1) {
				return Verdict{}, fmt.Errorf("%w: score of %q out of range", ErrUnavailable, name)
			}
			for _, c := range openAICategories[name] {
				i := c.Index()
				v.Scores[i] = max(v.Scores[i], s)
			}
		}
		for name, on := range r.Categories {
			if !on {
				continue
			}
			for _, c := range openAICategories[name] {
				flagged[c] = true
			}
		}
	}
	for _, c := range guard.Categories {
		if flagged[c] {
			v.Flagged = append(v.Flagged, c)
		}
	}
	return v, nil
}
