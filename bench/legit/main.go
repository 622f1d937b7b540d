// Command legit sends legitimate application traffic through the real
// `warden serve` binary, with its default configuration (guard on prompts
// and answers, detector, audit log, the built-in mock provider), as the
// applications that produce it would: the official OpenAI Go SDK, one key
// per application, created with the defaults. It counts what was refused
// and by what (an error, or an answer the guard withheld: the mock echoes
// the last user turn, so every user text is judged as an answer too), and
// whether any key was contained or any incident raised.
//
//	go run ./bench/legit                      # every set, whole
//	go run ./bench/legit -max 2000 -sets clinc150,app_templates
//
// The shared sets (../shared/datasets) are what the shipped guard was
// trained on, except its validation split, so the guard's figures here say
// that the gateway adds no refusals of its own at volume; what the guard
// does on data it has not seen is the leave-one-source-out figure in
// docs/guard-model-card.md. The test sets of internal/guard/testdata were
// never trained on.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/wardenhq/warden/bench/server"
)

// app is one application's traffic: where its texts come from and how it
// wraps each in a request.
type app struct {
	name, file string
	role       string // the role the texts take: system or user
}

const (
	shared   = "/work/shared/datasets"
	testdata = "internal/guard/testdata"
)

var apps = []app{
	{name: "custom_gpts", file: shared + "/legit/system_custom_gpts.jsonl", role: "system"},
	{name: "clinc150", file: shared + "/legit/user_clinc150.jsonl", role: "user"},
	{name: "alpaca", file: shared + "/guard/benign_alpaca_harmless_val.jsonl", role: "user"},
	{name: "promptshield_conversation", file: shared + "/guard/benign_promptshield_conversation.jsonl", role: "user"},
	{name: "promptshield_usenix", file: shared + "/guard/benign_promptshield_usenix.jsonl", role: "user"},
	{name: "system_prompts_benign", file: testdata + "/system_prompts_benign.jsonl", role: "system"},
	{name: "customer_messages", file: testdata + "/customer_messages.jsonl", role: "user"},
	{name: "safe_homonyms", file: testdata + "/safe_homonyms.jsonl", role: "user"},
	{name: "exaggerated_safety", file: testdata + "/exaggerated_safety.jsonl", role: "user"},
	{name: "protective_requests", file: testdata + "/protective_requests.jsonl", role: "user"},
	{name: "roleplay_messages", file: testdata + "/roleplay_messages.jsonl", role: "user"},
	{name: "app_templates", file: testdata + "/app_templates.jsonl", role: "user"},
	// Written blind to measure, not to pass: ordinary requests that sound
	// alarming (docs/guard-model-card.md, "Fifteenth round").
	{name: "fresh_alarming", file: testdata + "/fresh_alarming.jsonl", role: "user"},
	// Written by someone who saw none of the guard (docs/guard-model-card.md,
	// "Sixteenth round"): ordinary requests that sound alarming and personas,
	// and system prompts of every kind of application.
	{name: "blind_user", file: testdata + "/blind_benign_user.jsonl", role: "user"},
	{name: "blind_system", file: testdata + "/blind_benign_system.jsonl", role: "system"},
}

func main() {
	sets := flag.String("sets", "", "comma-separated sets to send (default: all): "+names())
	maxN := flag.Int("max", 0, "at most this many texts per set (0: all)")
	conc := flag.Int("concurrency", 8, "requests in flight per application")
	flag.Parse()
	log.SetFlags(0)

	var chosen []app
	for _, a := range apps {
		if *sets == "" || slices.Contains(strings.Split(*sets, ","), a.name) {
			chosen = append(chosen, a)
		}
	}
	if len(chosen) == 0 {
		log.Fatalf("no set chosen; sets are %s", names())
	}

	tmp, err := os.MkdirTemp("", "warden-legit-")
	check(err)
	defer os.RemoveAll(tmp)
	bin, err := server.Build(tmp)
	check(err)
	data := filepath.Join(tmp, "data")
	api, adm := server.FreePort(), server.FreePort()
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", api, "--admin-listen", adm, "--log-level", "error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Start())
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	check(server.WaitUp("http://" + api + "/healthz"))
	token, err := server.AdminToken(data)
	check(err)
	cli := func(args ...string) []byte {
		c := exec.Command(bin, append(args, "--json", "--admin-url", "http://"+adm)...)
		c.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+token)
		out, err := c.Output()
		if err != nil {
			log.Fatalf("warden %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	fmt.Printf("Measured %s by `go run ./bench/legit%s` against the real `warden serve` (defaults, built-in mock provider), Go SDK, %d requests in flight per application.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), argsLine(), *conc)
	fmt.Println("| application (set) | role of the texts | requests | refused | by the guard (content_filter) | by limits or the detector (429) | other | key after |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|")
	total, refusedAll := 0, 0
	for _, a := range chosen {
		texts, err := readTexts(a.file, *maxN)
		check(err)
		var k struct{ ID, Key string }
		check(json.Unmarshal(cli("keys", "create", "--name", a.name, "--owner", "bench-legit"), &k))
		c := openai.NewClient(option.WithBaseURL("http://"+api+"/v1"), option.WithAPIKey(k.Key), option.WithMaxRetries(0),
			option.WithHeader("User-Agent", "acme-"+a.name+"/1.4"))
		r := send(c, a, texts, *conc)
		var got struct{ Status, Action string }
		check(json.Unmarshal(cli("keys", "get", k.ID), &got))
		state := got.Status
		if got.Action != "" {
			state += ", " + got.Action
		}
		refused := r.guard + r.limited + r.other
		total += len(texts)
		refusedAll += refused
		fmt.Printf("| %s | %s | %d | %d (%.2f%%) | %d | %d | %d | %s |\n", a.name, a.role, len(texts), refused,
			100*float64(refused)/float64(max(1, len(texts))), r.guard, r.limited, r.other, state)
		for _, ex := range r.examples {
			log.Printf("%s refused: %s", a.name, ex)
		}
	}
	var incidents []json.RawMessage
	check(json.Unmarshal(cli("incidents", "list"), &incidents))
	fmt.Printf("\n%d requests, %d refused; %d incidents raised.\n", total, refusedAll, len(incidents))
}

type result struct {
	guard, limited, other int
	examples              []string
}

// send sends each text as its application would, conc at a time.
func send(c openai.Client, a app, texts []string, conc int) result {
	var (
		mu  sync.Mutex
		r   result
		wg  sync.WaitGroup
		sem = make(chan struct{}, conc)
	)
	for _, t := range texts {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "mock-echo", Messages: messages(a, t)})
			if err == nil && !answerWithheld(resp) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			var apiErr *openai.Error
			switch {
			case err == nil:
				// The answer guard withheld the answer: a 200 whose
				// choice ends with finish_reason content_filter.
				r.guard++
				err = errors.New("200, answer withheld: finish_reason content_filter")
			case errors.As(err, &apiErr) && apiErr.Code == "content_filter":
				r.guard++
			case errors.As(err, &apiErr) && apiErr.StatusCode == 429:
				r.limited++
			default:
				r.other++
			}
			if len(r.examples) < 5 {
				why := err.Error()
				if apiErr != nil {
					why = fmt.Sprintf("%d %s: %s", apiErr.StatusCode, apiErr.Code, apiErr.Message)
				}
				r.examples = append(r.examples, fmt.Sprintf("%.80q: %s", t, why))
			}
		}()
	}
	wg.Wait()
	return r
}

// answerWithheld reports whether the gateway withheld an answer that the
// upstream gave: the guard's refusal at the answer stage, which is a 200
// with finish_reason content_filter and the text removed, not an error.
func answerWithheld(resp *openai.ChatCompletion) bool {
	for _, ch := range resp.Choices {
		if ch.FinishReason == "content_filter" {
			return true
		}
	}
	return false
}

// messages wraps a text as its application sends it: a system prompt with
// an ordinary first user turn, or a user turn after the application's own
// system prompt.
func messages(a app, text string) []openai.ChatCompletionMessageParamUnion {
	if a.role == "system" {
		return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(text), openai.UserMessage("Hi! What can you help me with?")}
	}
	return []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are a helpful assistant of Acme Corp. Answer clearly and briefly."),
		openai.UserMessage(text),
	}
}

// readTexts reads the text of each benign record (label 0, or no label) of
// a JSONL file, at most maxN of them (0: all).
func readTexts(path string, maxN int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() && (maxN == 0 || len(out) < maxN) {
		var r struct {
			Text  string
			Label *int
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if r.Text != "" && (r.Label == nil || *r.Label == 0) {
			out = append(out, r.Text)
		}
	}
	return out, sc.Err()
}

func names() string {
	var n []string
	for _, a := range apps {
		n = append(n, a.name)
	}
	return strings.Join(n, ",")
}

func argsLine() string {
	if len(os.Args) < 2 {
		return ""
	}
	return " " + strings.Join(os.Args[1:], " ")
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
