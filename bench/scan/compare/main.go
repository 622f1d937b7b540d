// Command compare measures precision and recall of warden scan, and of
// gitleaks when given its binary, on the same labelled corpus: the project
// trees of fakes.NewProject (keys planted where people leak them; logs, lock
// files, fixtures, a minified bundle and notebooks full of hashes and
// identifiers). It writes the trees to a temporary directory, scans them,
// and counts a finding as true when its secret is (part of) a secret planted
// in that file; recall counts planted secrets found.
//
//	go run ./bench/scan/compare -seeds 5
//	go install github.com/zricethezav/gitleaks/v8@v8.30.1
//	go run ./bench/scan/compare -seeds 5 -gitleaks $(go env GOPATH)/bin/gitleaks
//
// Secrets are fakes drawn at run time; gitleaks' report (which holds them)
// is written to the temporary directory and removed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/wardenhq/warden/bench/measure"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/scan/source"
)

// planted is one secret planted at a path, with the other parts of it a
// scanner may report (an AWS key id beside its secret).
type planted struct {
	rule  string
	path  string
	parts []string
	found bool
}

type result struct {
	name           string
	tp, fp, recall int
	total          int
	seconds, cpu   float64
	fps            map[string]int // false positives by rule
	missed         map[string]int // planted secrets missed, by Warden rule id
}

func main() {
	seeds := flag.Int("seeds", 5, "project trees to generate")
	gitleaks := flag.String("gitleaks", "", "path of a gitleaks binary to compare with")
	minConf := flag.String("min-confidence", "medium", "warden's minimum confidence")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "warden-compare-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	corpus := filepath.Join(tmp, "corpus")
	var all []*planted
	var size int64
	awsID := regexp.MustCompile(`(?:AKIA|ASIA)[A-Z2-7]{16}`)
	for seed := 1; seed <= *seeds; seed++ {
		p := fakes.New(uint64(seed)).NewProject()
		root := fmt.Sprintf("p%02d", seed)
		for path, text := range p.Files {
			full := filepath.Join(corpus, root, filepath.FromSlash(path))
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
				log.Fatal(err)
			}
			size += int64(len(text))
		}
		for _, pl := range p.Planted {
			parts := []string{pl.Secret}
			if pl.RuleID == "aws-access-key" {
				parts = append(parts, awsID.FindString(pl.Text))
			}
			all = append(all, &planted{rule: pl.RuleID, path: root + "/" + pl.Path, parts: parts})
		}
	}
	fmt.Printf("corpus: %d project trees, %.1f MB, %d planted secrets\n\n", *seeds, float64(size)/1e6, len(all))

	mc, err := scan.ParseConfidence(*minConf)
	if err != nil {
		log.Fatal(err)
	}
	e, err := scan.NewEngine(scan.Builtin(), scan.MinConfidence(mc))
	if err != nil {
		log.Fatal(err)
	}
	// The findings carry fingerprints, not secrets: match by fingerprint.
	byFP := map[string]string{}
	for _, p := range all {
		for _, s := range p.parts {
			byFP[scan.Fingerprint(s)] = s
		}
	}
	start, cpu0 := time.Now(), measure.CPUTime()
	fs, err := source.New(e, source.Options{}).Collect(context.Background(), corpus)
	if err != nil {
		log.Fatal(err)
	}
	wardenCPU := (measure.CPUTime() - cpu0).Seconds()
	var found []finding
	for _, f := range fs {
		found = append(found, finding{path: rel(corpus, f.Path), secret: byFP[f.Fingerprint], rule: f.RuleID})
	}
	results := []result{score("warden scan (--min-confidence "+string(mc)+")", all, found, time.Since(start).Seconds())}
	results[0].cpu = wardenCPU

	if *gitleaks != "" {
		for _, p := range all {
			p.found = false
		}
		report := filepath.Join(tmp, "gitleaks.json")
		cmd := exec.Command(*gitleaks, "dir", corpus, "--no-banner", "--exit-code", "0", "--log-level", "error", "--report-format", "json", "--report-path", report)
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			log.Fatalf("gitleaks: %v", err)
		}
		el := time.Since(start).Seconds()
		glCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		b, err := os.ReadFile(report)
		if err != nil {
			log.Fatal(err)
		}
		var gl []struct {
			RuleID string `json:"RuleID"`
			File   string `json:"File"`
			Secret string `json:"Secret"`
		}
		if err := json.Unmarshal(b, &gl); err != nil {
			log.Fatal(err)
		}
		found = found[:0]
		for _, f := range gl {
			found = append(found, finding{path: rel(corpus, f.File), secret: f.Secret, rule: f.RuleID})
		}
		results = append(results, score("gitleaks (default rules)", all, found, el))
		results[1].cpu = glCPU
	}

	fmt.Println("| scanner | planted found (recall) | true findings | false positives | precision | wall time | MB per CPU second |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		prec := 1.0
		if r.tp+r.fp > 0 {
			prec = float64(r.tp) / float64(r.tp+r.fp)
		}
		fmt.Printf("| %s | %d / %d (%.1f%%) | %d | %d | %.1f%% | %.2f s | %.1f |\n", r.name, r.recall, r.total, 100*float64(r.recall)/float64(r.total), r.tp, r.fp, 100*prec, r.seconds, float64(size)/1e6/r.cpu)
	}
	for _, r := range results {
		if len(r.fps) > 0 {
			fmt.Printf("\n%s false positives by rule: %v\n", r.name, r.fps)
		}
		if len(r.missed) > 0 {
			fmt.Printf("%s missed (by the planted key's kind): %v\n", r.name, r.missed)
		}
	}
}

type finding struct{ path, secret, rule string }

func rel(root, p string) string {
	p, _, _ = strings.Cut(p, "!") // notebook cells, archive members
	if r, err := filepath.Rel(root, p); err == nil {
		p = r
	}
	return filepath.ToSlash(p)
}

// score matches findings to planted secrets. A finding is true when its
// secret is a planted secret of its file, or part of one, or contains one;
// findings of the same secret at the same path count once.
func score(name string, all []*planted, found []finding, seconds float64) result {
	r := result{name: name, total: len(all), seconds: seconds, fps: map[string]int{}, missed: map[string]int{}}
	seen := map[string]bool{}
	for _, f := range found {
		k := f.path + "\x00" + f.secret + "\x00" + f.rule
		if f.secret != "" && seen[k] {
			continue
		}
		seen[k] = true
		hit := false
		for _, p := range all {
			if p.path != f.path || f.secret == "" {
				continue
			}
			for _, s := range p.parts {
				if s != "" && (strings.Contains(f.secret, s) || len(f.secret) >= 16 && strings.Contains(s, f.secret)) {
					hit, p.found = true, true
				}
			}
		}
		if hit {
			r.tp++
		} else {
			r.fp++
			r.fps[f.rule]++
		}
	}
	for _, p := range all {
		if p.found {
			r.recall++
		} else {
			r.missed[p.rule]++
		}
	}
	return r
}
