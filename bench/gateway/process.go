package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wardenhq/warden/bench/server"
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
	bin, err := server.Build(tmp)
	if err != nil {
		stop()
		log.Fatal(err)
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
	proxyAddr := server.FreePort()
	start(self, "-proxy-for", upstream, "-proxy-listen", proxyAddr)

	cfg := filepath.Join(tmp, "warden.yaml")
	yaml := fmt.Sprintf("providers:\n  - name: up\n    type: openai\n    base_url: %q\nmodels:\n  - name: mock-echo\n    provider: up\nprices:\n  mock-echo: {input_per_1k: 0.001, output_per_1k: 0.002}\n", upstream+"/v1")
	check(os.WriteFile(cfg, []byte(yaml), 0o600))
	data := filepath.Join(tmp, "data")
	api, adm := server.FreePort(), server.FreePort()
	start(bin, "serve", "--config", cfg, "--data", data, "--listen", api, "--admin-listen", adm, "--log-level", "error")
	if err := server.WaitUp("http://"+api+"/healthz", "http://"+proxyAddr); err != nil {
		stop()
		log.Fatal(err)
	}
	token, err := server.AdminToken(data)
	if err != nil {
		stop()
		log.Fatal(err)
	}
	key, err := server.CreateKey(bin, token, "http://"+adm)
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
