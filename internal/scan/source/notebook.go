package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/wardenhq/warden/internal/scan"
)

// notebook scans a Jupyter notebook cell by cell, sources and outputs, so a
// key in a cell is reported at its line within the cell rather than inside
// an escaped JSON string. A notebook that does not parse is scanned as text.
func (s *Scanner) notebook(ctx context.Context, name string, r io.Reader, emit func(scan.Finding)) error {
	b, err := io.ReadAll(io.LimitReader(s.counting(r), s.Opts.MaxNotebookBytes+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > s.Opts.MaxNotebookBytes {
		s.Opts.Logger.Warn("scan: notebook larger than the limit, skipped", "path", name, "limit", s.Opts.MaxNotebookBytes)
		return nil
	}
	cells, err := ParseNotebook(b)
	if err != nil {
		s.Opts.Logger.Debug("scan: notebook does not parse, scanned as text", "path", name, "err", err)
		s.Engine.ScanText(b, scan.Location{Path: name}, nil, emit)
		return nil
	}
	for _, c := range cells {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.Engine.ScanText([]byte(c.Text), scan.Location{Path: name + "!" + c.Name}, nil, emit)
	}
	return nil
}

// NotebookText is one scannable piece of a notebook.
type NotebookText struct {
	Name string // cell[3] or cell[3].output[0]
	Text string
}

type nbDoc struct {
	Cells []struct {
		Source  multiline `json:"source"`
		Outputs []struct {
			Text      multiline            `json:"text"`
			Data      map[string]multiline `json:"data"`
			Traceback []string             `json:"traceback"`
		} `json:"outputs"`
	} `json:"cells"`
}

// multiline is nbformat's "string or list of strings".
type multiline string

func (m *multiline) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = multiline(s)
		return nil
	}
	var parts []string
	if err := json.Unmarshal(b, &parts); err != nil {
		// Non-text output data (e.g. an embedded JSON object) is not scanned.
		*m = ""
		return nil
	}
	*m = multiline(strings.Join(parts, ""))
	return nil
}

// ParseNotebook extracts the text of every cell and output of an nbformat 4
// notebook.
func ParseNotebook(b []byte) ([]NotebookText, error) {
	var doc nbDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("source: notebook: %w", err)
	}
	var out []NotebookText
	for i, c := range doc.Cells {
		if c.Source != "" {
			out = append(out, NotebookText{Name: fmt.Sprintf("cell[%d]", i), Text: string(c.Source)})
		}
		for j, o := range c.Outputs {
			var sb strings.Builder
			sb.WriteString(string(o.Text))
			for _, mime := range []string{"text/plain", "text/html", "text/markdown", "application/javascript"} {
				if t := o.Data[mime]; t != "" {
					sb.WriteString("\n")
					sb.WriteString(string(t))
				}
			}
			for _, t := range o.Traceback {
				sb.WriteString("\n")
				sb.WriteString(t)
			}
			if sb.Len() > 0 {
				out = append(out, NotebookText{Name: fmt.Sprintf("cell[%d].output[%d]", i, j), Text: sb.String()})
			}
		}
	}
	return out, nil
}
