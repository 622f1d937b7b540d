package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/report"
)

func sample() []scan.Finding {
	d := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return []scan.Finding{
		{RuleID: "warden-key", Description: "Warden API key", Path: "src/a.py", Line: 3, Column: 9, Secret: "wdn_…abcd", Fingerprint: strings.Repeat("ab", 32), Confidence: scan.High, KeyID: "key_x", KeyStatus: "active", Revoked: true},
		{RuleID: "azure-openai-key", Description: "Azure", URL: "https://site.test/app.js", Line: 1, Column: 20, Secret: "0a1b…9f8e", Fingerprint: strings.Repeat("cd", 32), Confidence: scan.High, Endpoint: "https://x.openai.azure.com", Commit: "c0ffee", Author: "A <a@b>", Date: &d, Revocation: "Regenerate.\nSecond line."},
	}
}

func TestSARIFShape(t *testing.T) {
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.SARIF(&b, sample(), e.Rules()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string                `json:"id"`
						ShortDescription struct{ Text string } `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	dec := json.NewDecoder(&b)
	if err := dec.Decode(&log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema != report.SARIFSchema || len(log.Runs) != 1 {
		t.Fatalf("header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(e.Rules()) || run.Tool.Driver.Name == "" {
		t.Fatalf("driver rules: %d", len(run.Tool.Driver.Rules))
	}
	if len(run.Results) != 2 {
		t.Fatalf("results: %d", len(run.Results))
	}
	for i, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Fatalf("result %d: ruleIndex %d does not name %s", i, r.RuleIndex, r.RuleID)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI == "" || loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 {
			t.Fatalf("result %d location: %+v", i, loc)
		}
		if len(r.PartialFingerprints["secretSha256/v1"]) != 64 {
			t.Fatalf("result %d fingerprints: %v", i, r.PartialFingerprints)
		}
	}
}

func TestJSONRoundTripAndBaseline(t *testing.T) {
	fs := sample()
	var b bytes.Buffer
	if err := report.JSON(&b, fs); err != nil {
		t.Fatal(err)
	}
	bl, err := report.ReadBaseline(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	moved := sample()
	moved[0].Line = 40 // same secret, same file, another line: still accepted
	extra := moved[0]
	extra.Path = "src/b.py" // copied elsewhere: new
	left := bl.Filter(append(moved, extra))
	if len(left) != 1 || left[0].Path != "src/b.py" {
		t.Fatalf("baseline left %+v", left)
	}
	b.Reset()
	report.JSON(&b, nil)
	if strings.TrimSpace(b.String()) != "[]" {
		t.Fatalf("empty JSON report is %q", b.String())
	}
	if _, err := report.ReadBaseline(strings.NewReader("{\"not\":\"an array\"}")); err == nil {
		t.Fatal("a non-array baseline should fail")
	}
}

func TestTextNeverShowsSecrets(t *testing.T) {
	var b bytes.Buffer
	if err := report.Text(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"src/a.py:3:9", "REVOKED", "endpoint https://x.openai.azure.com", "| Second line.", "2 secrets found"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// TestConfidenceInReports: SARIF levels follow confidence, and the
// evidence of a scored finding is in every format.
func TestConfidenceInReports(t *testing.T) {
	fs := sample()
	fs[1].Confidence, fs[1].Evidence = scan.Medium, "name:api-key+4"
	fs = append(fs, scan.Finding{RuleID: "azure-openai-key", Path: "a.log", Line: 1, Column: 1, Secret: "1111…2222", Fingerprint: strings.Repeat("ef", 32), Confidence: scan.Low, Evidence: "name:identifier-8"})
	var b bytes.Buffer
	if err := report.SARIF(&b, fs, nil); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Level      string         `json:"level"`
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	var levels []string
	for _, r := range log.Runs[0].Results {
		levels = append(levels, r.Level)
	}
	if strings.Join(levels, ",") != "error,warning,note" || log.Runs[0].Results[2].Properties["evidence"] != "name:identifier-8" {
		t.Fatalf("levels %v, results %+v", levels, log.Runs[0].Results)
	}
	b.Reset()
	if err := report.Text(&b, fs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "medium confidence") || !strings.Contains(b.String(), "evidence: name:api-key+4") {
		t.Fatalf("text: %s", b.String())
	}
}
