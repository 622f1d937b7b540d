package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// LeafIndex holds the fields of a leaf's event that a store copies into
// columns of its own (store.AuditEntry's KeyID, Team and Time) to select by
// them. Verify checks the columns against it; Export selects by it.
type LeafIndex struct {
	KeyID string    `json:"key_id"`
	Team  string    `json:"key_owner"`
	Time  time.Time `json:"ts"`
}

// Index decodes the leaf's LeafIndex from its event. It reads only the
// event's top-level keys and decodes only the three values it needs:
// Verify calls it for every entry of the log, and a full json.Unmarshal of
// each event would double the time of verifying a million entries. Input
// that the fast path cannot read exactly as encoding/json would (an escaped
// or case-folded key) goes to json.Unmarshal, so both always agree.
func (l *Leaf) Index() (LeafIndex, error) {
	x, ok, err := scanIndex(l.Event)
	if err != nil {
		return x, fmt.Errorf("%w: event: %w", errLeaf, err)
	}
	if !ok {
		x = LeafIndex{}
		if err := json.Unmarshal(l.Event, &x); err != nil {
			return x, fmt.Errorf("%w: event: %w", errLeaf, err)
		}
	}
	return x, nil
}

var errEventJSON = fmt.Errorf("not a JSON object")

// scanIndex reads x from the top level of the JSON object ev. ok is false
// when a key needs encoding/json's rules (escapes, other case).
func scanIndex(ev []byte) (x LeafIndex, ok bool, err error) {
	i := skipSpace(ev, 0)
	if i >= len(ev) || ev[i] != '{' {
		return x, false, errEventJSON
	}
	i = skipSpace(ev, i+1)
	if i < len(ev) && ev[i] == '}' {
		return x, true, nil
	}
	for {
		if i >= len(ev) || ev[i] != '"' {
			return x, false, errEventJSON
		}
		kEnd := skipString(ev, i)
		if kEnd < 0 {
			return x, false, errEventJSON
		}
		key := ev[i+1 : kEnd-1]
		i = skipSpace(ev, kEnd)
		if i >= len(ev) || ev[i] != ':' {
			return x, false, errEventJSON
		}
		i = skipSpace(ev, i+1)
		vEnd := skipValue(ev, i)
		if vEnd < 0 {
			return x, false, errEventJSON
		}
		val := ev[i:vEnd]
		var dst any
		switch string(key) {
		case "key_id":
			dst = &x.KeyID
		case "key_owner":
			dst = &x.Team
		case "ts":
			dst = &x.Time
		default:
			if bytes.IndexByte(key, '\\') >= 0 || bytes.EqualFold(key, []byte("key_id")) || bytes.EqualFold(key, []byte("key_owner")) || bytes.EqualFold(key, []byte("ts")) {
				return x, false, nil
			}
		}
		if dst != nil {
			if err := json.Unmarshal(val, dst); err != nil {
				return x, false, err
			}
		}
		i = skipSpace(ev, vEnd)
		if i >= len(ev) {
			return x, false, errEventJSON
		}
		switch ev[i] {
		case ',':
			i = skipSpace(ev, i+1)
		case '}':
			if skipSpace(ev, i+1) != len(ev) {
				return x, false, errEventJSON
			}
			return x, true, nil
		default:
			return x, false, errEventJSON
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1 if it does not end.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or
// -1. It checks nesting and strings, not the value's grammar: the values it
// skips are not used, and those it keeps go through json.Unmarshal.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// columnMismatch names the first column (as stored) that disagrees with x
// (as the leaf says), or returns "" when all agree. With hasBody it also
// checks the body row's copies of the key and time.
func columnMismatch(x LeafIndex, keyID, team string, t time.Time, hasBody bool, bodyKey string, bodyTime time.Time) string {
	switch {
	case keyID != x.KeyID:
		return fmt.Sprintf("column key_id is %q but its leaf says %q (the index column was changed)", keyID, x.KeyID)
	case team != x.Team:
		return fmt.Sprintf("column team is %q but its leaf says %q (the index column was changed)", team, x.Team)
	case !t.Equal(x.Time):
		return fmt.Sprintf("column ts is %s but its leaf says %s (the index column was changed)", t.UTC().Format(time.RFC3339Nano), x.Time.UTC().Format(time.RFC3339Nano))
	case hasBody && bodyKey != x.KeyID:
		return fmt.Sprintf("the body's key_id column is %q but its leaf says %q (the column was changed)", bodyKey, x.KeyID)
	case hasBody && !bodyTime.Equal(x.Time):
		return fmt.Sprintf("the body's ts column is %s but its leaf says %s (the column was changed)", bodyTime.UTC().Format(time.RFC3339Nano), x.Time.UTC().Format(time.RFC3339Nano))
	}
	return ""
}
