package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"strings"

	"github.com/wardenhq/warden/internal/guard/labels"
)

// valRecord is a line of the validation file: the dataset record plus the
// guard's view (kind, weak categories, skip).
type valRecord struct {
	Text       string   `json:"text"`
	Label      int      `json:"label"`
	Source     string   `json:"source"`
	Category   string   `json:"category,omitempty"`
	Kind       string   `json:"kind"`
	Categories []string `json:"categories,omitempty"`
	Skip       bool     `json:"skip,omitempty"`
	Role       string   `json:"role,omitempty"`
}

func writeVal(path string, val []*doc) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		gz, _ = gzip.NewWriterLevel(f, gzip.BestCompression)
		w = gz
	}
	enc := json.NewEncoder(w)
	for _, d := range val {
		l := d.l
		switch {
		case l.Kind == labels.Benign && l.Label == 1:
			// Offensive, not hateful (Davidson): profanity is not a guard
			// category, so neither a hit nor a miss.
			l.Skip = true
		case l.Kind == labels.Harm && strings.Contains(l.Source, "davidson"):
			l.Kind = "hate_speech" // posts, not requests
		}
		if err := enc.Encode(valRecord{l.Text, l.Label, l.Source, l.Category, l.Kind, l.Categories, l.Skip, l.Role}); err != nil {
			f.Close()
			return err
		}
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
