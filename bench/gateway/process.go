package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startProcesses builds ./cmd/warden and starts it as `warden serve` with
// its default configuration (the provider pointed at upstream), and a bare
// reverse proxy to upstream in a process of its own (this program, re-run
// with -proxy-for). It returns both as targets and a function that stops them.
func startProcesses(upstream string) ([]target, func()) {
	tmp, err := os.MkdirTemp("", "warden-bench-bin-")
	check(err)
	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
		os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "warden")
	build := exec.Command("go", "build", "-o", bin, "./cmd/warden")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		stop()
		log.Fatalf("building warden (run from the repository root): %v\n%s", err, out)
	}
	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			stop()
			log.Fatal(err)
		}
		procs = append(procs, cmd)
	}

	self, err := os.Executable()
	check(err)
	proxyAddr := freePort()
	start(self, "-proxy-for", upstream, "-proxy-listen", proxyAddr)

	cfg := filepath.Join(tmp, "warden.yaml")
	yaml := fmt.Sprintf("providers:\n  - name: up\n    type: openai\n    base_url: %q\nmodels:\n  - name: mock-echo\n    provider: up\nprices:\n  mock-echo: {input_per_1k: 0.001, output_per_1k: 0.002}\n", upstream+"/v1")
	check(os.WriteFile(cfg, []byte(yaml), 0o600))
	data := filepath.Join(tmp, "data")
	api, adm := freePort(), freePort()
	start(bin, "serve", "--config", cfg, "--data", data, "--listen", api, "--admin-listen", adm, "--log-level", "error")
	if err := waitUp("http://"+api+"/healthz", "http://"+proxyAddr); err != nil {
		stop()
		log.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		stop()
		log.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	key, err := createKey(bin, token, "http://"+adm)
	if err != nil {
		stop()
		log.Fatal(err)
	}
	return []target{
		{name: "reverseproxy (process)", url: "http://" + proxyAddr},
		{name: "warden serve (binary)", url: "http://" + api, key: key, base: "reverseproxy (process)", admin: "http://" + adm, token: token},
	}, stop
}

// runProxy serves a bare reverse proxy to upstream on addr until killed.
func runProxy(upstream, addr string) {
	srv := &http.Server{Addr: addr, Handler: newProxy(upstream), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// createKey makes a key with limits no benchmark reaches, through the admin
// API as an operator would.
func createKey(bin, token, adminURL string) (string, error) {
	cmd := exec.Command(bin, "keys", "create", "--json", "--name", "bench", "--rpm", "100000000", "--tpm", "100000000", "--admin-url", adminURL)
	cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+token)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("keys create: %w", err)
	}
	var v struct{ Key string }
	if err := json.Unmarshal(out, &v); err != nil || v.Key == "" {
		return "", errors.New("keys create printed no key")
	}
	return v.Key, nil
}

// waitUp waits until every URL answers (any status).
func waitUp(urls ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range urls {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not come up: %w", u, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}
