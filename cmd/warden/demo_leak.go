package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/scan/source"
)

// demoLeakScene pastes a key into a local "public" page and its script,
// crawls the site, revokes what it finds and shows the key refused.
func demoLeakScene(ctx context.Context, env *demoEnv) error {
	out := env.out
	k, sec, err := keys.Create(ctx, env.store, keys.Spec{Name: "frontend-widget", Owner: "team-web"}, time.Now())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<html><head><script src="/static/app.js"></script></head><body><h1>Our shiny chatbot</h1></body></html>`)
	})
	mux.HandleFunc("/static/app.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		fmt.Fprintf(w, "const client = new OpenAI({ baseURL: %q, apiKey: %q, dangerouslyAllowBrowser: true });\n", env.url+"/v1", sec.Reveal())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	site := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(out, "Team web ships a chatbot page at %s; its JavaScript bundle contains key %s.\n", site, k.ID)

	status, _, _ := env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`, nil)
	fmt.Fprintf(out, "The key works: %d.\n\n", status)

	eng, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		return err
	}
	sc := source.New(eng, source.Options{Web: source.WebOptions{Depth: 2, MaxRequests: 20, Delay: -1}})
	fs, n, err := revoke.Sweep(ctx, sc, &revoke.Store{Keys: env.store}, site)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "`warden scan %s --revoke` crawls the site and finds %d secret(s):\n", site, len(fs))
	for _, f := range fs {
		fmt.Fprintf(out, "  %s at %s: %s (key %s of %s), revoked: %v\n", f.RuleID, f.Where(), f.Secret, f.KeyID, f.KeyOwner, f.Revoked)
	}
	fmt.Fprintf(out, "It revoked %d key(s).\n", n)
	deadline := time.Now().Add(3 * time.Second)
	for {
		status, code, _ := env.call(ctx, sec.Reveal(), "/v1/chat/completions", `{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`, nil)
		if status == 401 || time.Now().After(deadline) {
			fmt.Fprintf(out, "The next use of the leaked key: %d %s. Whoever scraped the page got nothing.\n", status, code)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
