package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/warden"
)

func init() { register(newDemoCmd) }

// demoEnv is a Warden running in process on the mock provider, for the demo.
type demoEnv struct {
	out   io.Writer
	url   string
	store store.Store
	gw    *gateway.Server
	data  string
}

// demoScenes run in order; each tells one part of the story.
var demoScenes = []struct {
	title string
	run   func(ctx context.Context, env *demoEnv) error
}{
	{"A key with limits", demoCoreScene},
	{"A key leaks onto a web page", demoLeakScene},
	{"A key is stolen, probed and resold", demoDetectScene},
}

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Watch Warden work: limits, a leaked key revoked, a stolen key contained",
		Long: `Starts Warden in process (the same assembly as "warden serve") on the built-in mock provider with a throwaway data
directory and tells in plain words what happens in three scenes: a key with
limits (one request refused); a key pasted into a web page, found by the
scanner and revoked; a key stolen, probed and resold, detected and contained
(simulated traffic replayed through the detector). Nothing leaves this machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			env, stop, err := startDemo(ctx, os.Stdout)
			if err != nil {
				return err
			}
			defer stop()
			for i, sc := range demoScenes {
				fmt.Fprintf(env.out, "\n== Scene %d: %s ==\n\n", i+1, sc.title)
				if err := sc.run(ctx, env); err != nil {
					return fmt.Errorf("demo scene %q: %w", sc.title, err)
				}
			}
			fmt.Fprintln(env.out, "\nThat's Warden. Run `warden serve` to start it for real.")
			return nil
		},
	}
}

func startDemo(ctx context.Context, out io.Writer) (*demoEnv, func(), error) {
	dir, err := os.MkdirTemp("", "warden-demo-")
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cfg := config.Default()
	cfg.Data = dir
	wd, err := warden.New(ctx, warden.Options{Config: cfg, Store: st, PseudonymKey: []byte("demo")})
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	ln, err := gateway.Listen("127.0.0.1:0")
	if err != nil {
		wd.Close()
		st.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	wd.Start()
	srvDone := make(chan struct{})
	go func() {
		gateway.Serve(runCtx, gateway.NewHTTPServer(wd.Gateway, cfg.Limits), ln, 5*time.Second)
		close(srvDone)
	}()
	env := &demoEnv{out: out, url: "http://" + ln.Addr().String(), store: st, gw: wd.Gateway, data: dir}
	fmt.Fprintf(out, "Warden is running at %s on the built-in mock provider (data in %s).\n", env.url, dir)
	return env, func() {
		cancel()
		<-srvDone
		wd.Close()
		st.Close()
		os.RemoveAll(dir)
	}, nil
}

// call makes one API request and returns status, error code and content.
func (env *demoEnv) call(ctx context.Context, key, path, body string, hdr map[string]string) (int, string, string) {
	req, _ := http.NewRequestWithContext(ctx, "POST", env.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error(), ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.Unmarshal(b, &v)
	if resp.StatusCode != 200 {
		return resp.StatusCode, v.Error.Code, v.Error.Message
	}
	if len(v.Choices) > 0 {
		return 200, "", v.Choices[0].Message.Content
	}
	if bytes.HasPrefix(b, []byte("data:")) {
		return 200, "", "(a stream of server-sent events)"
	}
	return 200, "", ""
}

func demoCoreScene(ctx context.Context, env *demoEnv) error {
	out := env.out
	k, sec, err := keys.Create(ctx, env.store, keys.Spec{Name: "demo-app", Owner: "team-demo", Models: []string{"mock-echo"}, RPM: 2}, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created key %s for team-demo: only model mock-echo, at most 2 requests a minute.\n", k.ID)
	fmt.Fprintf(out, "The secret (%s) is shown once; Warden keeps only its SHA-256.\n\n", sec)
	status, _, content := env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-echo","messages":[{"role":"user","content":"Hello, Warden!"}]}`, nil)
	fmt.Fprintf(out, "1. The app asks mock-echo \"Hello, Warden!\": %d, answer %q.\n", status, content)
	status, code, msg := env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-lorem","messages":[{"role":"user","content":"hi"}]}`, nil)
	fmt.Fprintf(out, "2. It asks for mock-lorem, which the key may not use: refused with %d %s (%s)\n", status, code, msg)
	status, _, _ = env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"stream this"}]}`, nil)
	fmt.Fprintf(out, "3. A streamed answer passes through chunk by chunk: %d.\n", status)
	status, code, msg = env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-echo","messages":[{"role":"user","content":"one more"}]}`, nil)
	fmt.Fprintf(out, "4. A third request inside the minute: refused with %d %s (%s)\n", status, code, msg)
	status, code, _ = env.call(ctx, "wdn_"+strings.Repeat("x", 36), "/v1/chat/completions", `{"model":"mock-echo","messages":[]}`, nil)
	fmt.Fprintf(out, "5. A made-up key: %d %s, the same answer as a revoked or mistyped one.\n", status, code)
	env.gw.Flush(ctx)
	u, err := env.store.UsageOf(ctx, k.ID, time.Now().UTC().Format("2006-01"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nEvery request, refused or not, became one event. The key's month so far: %d requests, %d tokens.\n", u.Requests, u.Tokens)
	return nil
}
