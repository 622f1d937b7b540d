package moderator

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
)

func init() { Register("llamaguard", newLlamaGuard) }

// llamaGuardCategories is Llama Guard 3's hazard taxonomy (MLCommons), in
// order, with the guard categories each S-code maps to. S6 (specialized
// advice) and S8 (intellectual property) have no guard category: reported,
// not scored. S2 covers cyber crime as well as fraud and drugs; it maps to
// illicit, the broader of the two.
var llamaGuardCategories = []struct {
	code, name string
	cats       []guard.Category
}{
	{"S1", "Violent Crimes", []guard.Category{guard.Violence}},
	{"S2", "Non-Violent Crimes", []guard.Category{guard.Illicit}},
	{"S3", "Sex Crimes", []guard.Category{guard.Sexual}},
	{"S4", "Child Exploitation", []guard.Category{guard.SexualMinors}},
	{"S5", "Defamation", []guard.Category{guard.Hate}},
	{"S6", "Specialized Advice", nil},
	{"S7", "Privacy", []guard.Category{guard.Illicit}},
	{"S8", "Intellectual Property", nil},
	{"S9", "Indiscriminate Weapons", []guard.Category{guard.Weapons}},
	{"S10", "Hate", []guard.Category{guard.Hate}},
	{"S11", "Self-Harm", []guard.Category{guard.SelfHarm}},
	{"S12", "Sexual Content", []guard.Category{guard.Sexual}},
	{"S13", "Elections", []guard.Category{guard.Illicit}},
	{"S14", "Code Interpreter Abuse", []guard.Category{guard.Malware}},
}

type llamaGuard struct {
	url, model string
	chat       bool
	key        Secret
	client     *http.Client
}

func newLlamaGuard(c Config, key Secret, client *http.Client) (Moderator, error) {
	if c.Model == "" {
		return nil, fmt.Errorf("%w: llamaguard needs a model (e.g. meta-llama/Llama-Guard-3-8B or llama-guard3)", ErrConfig)
	}
	base := strings.TrimRight(c.Endpoint, "/")
	switch c.Mode {
	case "", "chat":
		return &llamaGuard{url: base + "/chat/completions", model: c.Model, chat: true, key: key, client: client}, nil
	case "completions":
		return &llamaGuard{url: base + "/completions", model: c.Model, key: key, client: client}, nil
	}
	return nil, fmt.Errorf("%w: llamaguard mode %q (want chat or completions)", ErrConfig, c.Mode)
}

type lgMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type lgRequest struct {
	Model       string      `json:"model"`
	Messages    []lgMessage `json:"messages,omitempty"`
	Prompt      string      `json:"prompt,omitempty"`
	Temperature float64     `json:"temperature"`
	MaxTokens   int         `json:"max_tokens"`
}

type lgResponse struct {
	Choices []struct {
		Text    string `json:"text"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

// conversation returns the text to judge as the user's turn (prompt
// stages: every part, history included) or as the answer (answer and stream
// stages), clipped to MaxInput.
func conversation(stage guard.Stage, parts []guard.Part) (user, answer string) {
	t := strings.Join(budget(guard.Texts(parts), MaxInput), "\n\n")
	if stage == guard.StageAnswer || stage == guard.StageStream {
		return "", t
	}
	return t, ""
}

// defuse keeps judged text from closing the conversation block or opening a
// new turn of the Llama Guard prompt.
var defuse = strings.NewReplacer("<|", "< |", "|>", "| >", "<BEGIN", "< BEGIN", "<END", "< END")

// llamaGuardPrompt builds the Llama Guard 3 prompt (completions mode):
// the task, the S1..S14 categories, the conversation, and the instruction
// to assess the last User (prompts) or Agent (answers) message.
func llamaGuardPrompt(user, answer string) string {
	role := "User"
	if answer != "" {
		role = "Agent"
	}
	var b strings.Builder
	b.WriteString("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n")
	b.WriteString("Task: Check if there is unsafe content in '" + role + "' messages in conversations according our safety policy with the below categories.\n\n")
	b.WriteString("<BEGIN UNSAFE CONTENT CATEGORIES>\n")
	for _, c := range llamaGuardCategories {
		b.WriteString(c.code + ": " + c.name + ".\n")
	}
	b.WriteString("<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\n")
	if user != "" {
		b.WriteString("User: " + defuse.Replace(user) + "\n\n")
	}
	if answer != "" {
		b.WriteString("Agent: " + defuse.Replace(answer) + "\n\n")
	}
	b.WriteString("<END CONVERSATION>\n\n")
	b.WriteString("Provide your safety assessment for ONLY THE LAST " + role + " message in the above conversation:\n")
	b.WriteString(" - First line must read 'safe' or 'unsafe'.\n")
	b.WriteString(" - If unsafe, a second line must include a comma-separated list of violated categories.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
	return b.String()
}

// answerPlaceholder stands in for the user's turn when only an answer is
// judged in chat mode (the chat template wants a user turn first).
const answerPlaceholder = "(request not shown)"

func (m *llamaGuard) Moderate(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error) {
	user, answer := conversation(stage, parts)
	if user == "" && answer == "" {
		return Verdict{}, nil
	}
	req := lgRequest{Model: m.model, Temperature: 0, MaxTokens: 24}
	if m.chat {
		if user == "" {
			user = answerPlaceholder
		}
		req.Messages = []lgMessage{{Role: "user", Content: user}}
		if answer != "" {
			req.Messages = append(req.Messages, lgMessage{Role: "assistant", Content: answer})
		}
	} else {
		req.Prompt = llamaGuardPrompt(user, answer)
	}
	h := map[string]string{}
	if !m.key.Empty() {
		h["Authorization"] = "Bearer " + m.key.Reveal()
	}
	var resp lgResponse
	if err := postJSON(ctx, m.client, m.url, h, req, &resp); err != nil {
		return Verdict{}, err
	}
	if len(resp.Choices) == 0 {
		return Verdict{}, fmt.Errorf("%w: answer without choices", ErrUnavailable)
	}
	out := resp.Choices[0].Message.Content
	if !m.chat {
		out = resp.Choices[0].Text
	}
	return parseLlamaGuard(out)
}

// parseLlamaGuard reads "safe", or "unsafe" followed (on the next line or
// the same one) by comma-separated S-codes.
func parseLlamaGuard(s string) (Verdict, error) {
	var v Verdict
	s = strings.TrimSpace(s)
	first, rest, _ := strings.Cut(s, "\n")
	first = strings.ToLower(strings.TrimSpace(first))
	switch {
	case first == "safe":
		return v, nil
	case strings.HasPrefix(first, "unsafe"):
		rest = strings.TrimSpace(first[len("unsafe"):]) + "," + rest
	default:
		return v, fmt.Errorf("%w: llama guard answer is neither safe nor unsafe", ErrUnavailable)
	}
	flagged := map[guard.Category]bool{}
	known := false
	for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		code := strings.ToUpper(strings.TrimRight(f, ".:"))
		for _, c := range llamaGuardCategories {
			if c.code == code {
				known = true
				for _, k := range c.cats {
					flagged[k] = true
				}
			}
		}
	}
	if !known {
		// "unsafe" without a code we know: the model says unsafe but not
		// why; counted as illicit rather than ignored.
		flagged[guard.Illicit] = true
	}
	for _, c := range guard.Categories {
		if flagged[c] {
			v.Flagged = append(v.Flagged, c)
			v.Scores[c.Index()] = 1
		}
	}
	return v, nil
}
