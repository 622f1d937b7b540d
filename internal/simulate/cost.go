package simulate

import (
	"encoding/json"
	"strings"

	"github.com/wardenhq/warden/internal/record"
)

// price is a public list price per model, USD (Azure OpenAI, global
// deployments, early 2026), used to put a dollar figure on attacker
// traffic whatever the replay's provider charges.
type price struct{ in, out, image, hdImage float64 }

var prices = map[string]price{
	"gpt-4o":                 {in: 0.0025, out: 0.01},
	"gpt-4o-mini":            {in: 0.00015, out: 0.0006},
	"gpt-4":                  {in: 0.03, out: 0.06},
	"gpt-4-32k":              {in: 0.06, out: 0.12},
	"text-embedding-3-small": {in: 0.00002},
	"dall-e-3":               {image: 0.08, hdImage: 0.12},
}

// EstimateCost is what a request costs if served: prompt characters / 4
// tokens in, max_tokens (default 400) out, or the image price. It reads
// only the record, so served and refused requests are priced alike.
func EstimateCost(rec *record.Record) float64 {
	path, _, _ := strings.Cut(rec.Path, "?")
	model := ""
	if i := strings.Index(path, "/deployments/"); i >= 0 {
		model, _, _ = strings.Cut(path[i+len("/deployments/"):], "/")
	}
	var b struct {
		Model     string          `json:"model"`
		MaxTokens int             `json:"max_tokens"`
		Quality   string          `json:"quality"`
		N         int             `json:"n"`
		Messages  json.RawMessage `json:"messages"`
		Prompt    string          `json:"prompt"`
		Input     json.RawMessage `json:"input"`
	}
	body := rec.BodyBytes()
	if json.Unmarshal(body, &b) != nil {
		return 0
	}
	if model == "" {
		model = b.Model
	}
	p, ok := prices[model]
	if !ok || rec.Method != "POST" {
		return 0
	}
	if p.image > 0 {
		n := max(1, b.N)
		if b.Quality == "hd" {
			return float64(n) * p.hdImage
		}
		return float64(n) * p.image
	}
	out := b.MaxTokens
	if out <= 0 || out > 4096 {
		out = 400
	}
	in := float64(len(b.Messages)+len(b.Prompt)+len(b.Input)) / 4
	return in/1000*p.in + float64(out)/1000*p.out
}
