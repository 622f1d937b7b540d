package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wardenhq/warden/internal/scan"
)

// SARIFSchema is the schema URI written into SARIF reports.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifText      `json:"shortDescription"`
	Help             *sarifText     `json:"help,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// SARIF writes fs as a SARIF 2.1.0 log. Every rule is listed, found or not.
func SARIF(w io.Writer, fs []scan.Finding, rules []*scan.Rule) error {
	drv := sarifDriver{Name: "warden-scan", InformationURI: "https://github.com/wardenhq/warden/blob/main/docs/scanner.md", Rules: []sarifRule{}}
	index := map[string]int{}
	addRule := func(id, desc, help string) {
		if _, ok := index[id]; ok {
			return
		}
		index[id] = len(drv.Rules)
		r := sarifRule{ID: id, Name: ruleName(id), ShortDescription: sarifText{desc}}
		if help != "" {
			r.Help = &sarifText{help}
		}
		r.Properties = map[string]any{"tags": []string{"security", "secret"}}
		drv.Rules = append(drv.Rules, r)
	}
	for _, r := range rules {
		addRule(r.ID, r.Description, r.Revocation)
	}
	results := []sarifResult{}
	for _, f := range fs {
		addRule(f.RuleID, f.Description, f.Revocation)
		msg := fmt.Sprintf("%s %s exposed", f.Description, f.Secret)
		if f.KeyID != "" {
			msg += fmt.Sprintf(" (Warden key %s, %s)", f.KeyID, f.KeyStatus)
		}
		res := sarifResult{
			RuleID:    f.RuleID,
			RuleIndex: index[f.RuleID],
			Level:     sarifLevel(f.Confidence),
			Message:   sarifText{msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: artifactURI(f)},
				Region:           sarifRegion{StartLine: max(f.Line, 1), StartColumn: f.Column},
			}}},
			PartialFingerprints: map[string]string{"secretSha256/v1": f.Fingerprint},
		}
		props := map[string]any{"confidence": f.Confidence}
		if f.Evidence != "" {
			props["evidence"] = f.Evidence
		}
		if f.Commit != "" {
			props["commit"] = f.Commit
			props["author"] = f.Author
		}
		if f.Endpoint != "" {
			props["endpoint"] = f.Endpoint
		}
		if f.KeyStatus != "" {
			props["keyStatus"] = f.KeyStatus
		}
		res.Properties = props
		results = append(results, res)
	}
	log := sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{drv}, Results: results}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// artifactURI is the URL, or the path with forward slashes (relative paths
// stay relative, as code-scanning services expect).
func artifactURI(f scan.Finding) string {
	if f.URL != "" {
		return f.URL
	}
	return filepath.ToSlash(f.Path)
}

// ruleName turns "azure-openai-key" into "AzureOpenaiKey", SARIF's style.
func ruleName(id string) string {
	var b strings.Builder
	for _, p := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

// sarifLevel maps confidence to a SARIF level, so code scanning can sort
// sure findings from likely ones.
func sarifLevel(c scan.Confidence) string {
	switch c {
	case scan.Low:
		return "note"
	case scan.Medium:
		return "warning"
	}
	return "error"
}
