// Package report writes scan findings for people (text) and machines (JSON,
// SARIF 2.1.0), and reads a previous JSON report back as a baseline of
// accepted findings.
//
// JSON is one array of finding objects (scan.Finding), "[]" when clean.
// SARIF follows the OASIS SARIF 2.1.0 schema: one run whose tool.driver
// lists every rule, one result per finding with ruleId, ruleIndex, a
// physical location (artifact URI and region startLine/startColumn) and a
// partialFingerprints entry "secretSha256/v1" carrying the finding's
// fingerprint, so code-scanning services track a secret across commits.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardenhq/warden/internal/scan"
)

// Format names an output format.
type Format string

const (
	FormatText  Format = "text"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatText, FormatJSON, FormatSARIF:
		return f, nil
	}
	return "", fmt.Errorf("report: unknown format %q (want text, json or sarif)", s)
}

// Write writes fs in format f. rules describe the rules for SARIF.
func Write(w io.Writer, f Format, fs []scan.Finding, rules []*scan.Rule) error {
	switch f {
	case FormatJSON:
		return JSON(w, fs)
	case FormatSARIF:
		return SARIF(w, fs, rules)
	default:
		return Text(w, fs)
	}
}

// JSON writes fs as one indented JSON array.
func JSON(w io.Writer, fs []scan.Finding) error {
	if fs == nil {
		fs = []scan.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fs)
}

// Text writes one block per finding, then a summary line.
func Text(w io.Writer, fs []scan.Finding) error {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s:%d:%d  %s  %s (%s, %s confidence)\n", where(f), f.Line, f.Column, f.Secret, f.Description, f.RuleID, f.Confidence)
		if f.Commit != "" {
			date := ""
			if f.Date != nil {
				date = " on " + f.Date.Format("2006-01-02")
			}
			fmt.Fprintf(&b, "    commit %s by %s%s\n", f.Commit, f.Author, date)
		}
		if f.Endpoint != "" {
			fmt.Fprintf(&b, "    endpoint %s\n", f.Endpoint)
		}
		if f.Note != "" {
			fmt.Fprintf(&b, "    %s\n", f.Note)
		}
		if f.Evidence != "" {
			fmt.Fprintf(&b, "    evidence: %s\n", f.Evidence)
		}
		if f.KeyStatus != "" {
			fmt.Fprintf(&b, "    Warden key %s", orDash(f.KeyID))
			if f.KeyOwner != "" {
				fmt.Fprintf(&b, " of %s", f.KeyOwner)
			}
			fmt.Fprintf(&b, ": %s", f.KeyStatus)
			if f.Revoked {
				b.WriteString(", REVOKED by this scan")
			}
			b.WriteString("\n")
		}
		if f.Revocation != "" {
			for _, l := range strings.Split(f.Revocation, "\n") {
				fmt.Fprintf(&b, "    | %s\n", l)
			}
		}
		b.WriteString("\n")
	}
	switch n := len(fs); n {
	case 0:
		b.WriteString("no secrets found\n")
	case 1:
		b.WriteString("1 secret found\n")
	default:
		fmt.Fprintf(&b, "%d secrets found\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func where(f scan.Finding) string {
	if f.URL != "" {
		return f.URL
	}
	return f.Path
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Baseline is a set of accepted findings read from an earlier JSON report.
// A finding is accepted when the baseline holds one with the same rule,
// fingerprint and path or URL: moving a known secret within its file does
// not make it new, copying it to another file does.
type Baseline struct {
	known map[baselineKey]bool
}

type baselineKey struct{ rule, fp, where string }

// maxBaseline bounds the baseline file read.
const maxBaseline = 64 << 20

// LoadBaseline reads a JSON report written by --format json.
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: baseline: %w", err)
	}
	defer f.Close()
	return ReadBaseline(f)
}

// ReadBaseline decodes a JSON report.
func ReadBaseline(r io.Reader) (*Baseline, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBaseline+1))
	if err != nil {
		return nil, fmt.Errorf("report: baseline: %w", err)
	}
	if len(b) > maxBaseline {
		return nil, errors.New("report: baseline larger than 64 MiB")
	}
	var fs []scan.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, fmt.Errorf("report: baseline is not a JSON array of findings: %w", err)
	}
	bl := &Baseline{known: make(map[baselineKey]bool, len(fs))}
	for _, f := range fs {
		bl.known[keyOf(f)] = true
	}
	return bl, nil
}

func keyOf(f scan.Finding) baselineKey {
	return baselineKey{f.RuleID, f.Fingerprint, filepath.ToSlash(where(f))}
}

// Filter returns the findings not in the baseline. A nil baseline accepts nothing.
func (bl *Baseline) Filter(fs []scan.Finding) []scan.Finding {
	if bl == nil {
		return fs
	}
	out := fs[:0:0]
	for _, f := range fs {
		if !bl.known[keyOf(f)] {
			out = append(out, f)
		}
	}
	return out
}
