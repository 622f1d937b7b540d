package gateway

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The I-JSON check: what Warden inspects is what the upstream reads.
//
// Go's encoding/json matches object keys case-insensitively and keeps the
// last of duplicate keys; the upstream's parser (Python, Node) matches
// exactly and may keep the first or the last. Were Warden to forward a body
// whose meaning depends on the parser, the guard would judge one text and
// the model would read another: {"messages":[<jailbreak>],
// "Messages":[<harmless>]} was judged harmless and forwarded with the
// jailbreak. So, before anything reads a body, checkIJSON refuses:
//
//   - anything that is not I-JSON (RFC 7493): invalid UTF-8, unpaired
//     surrogate escapes, a duplicate key in any object at any depth (keys
//     compared after unescaping, so "\u006dodel" duplicates "model");
//   - at the places Warden reads (the schema below), a key that is not one
//     of the names Warden reads there but equals one of them under Unicode
//     case folding ("Messages", "meſſages", "\u212Aey"): a case-insensitive
//     upstream (anything built on encoding/json) would read it where a
//     case-sensitive one would not, so no single reading is the meaning;
//   - nesting deeper than maxDepth and bodies larger than the caller's cap.
//
// Refusing rather than re-encoding the inspected object: refusal keeps the
// client's bytes (number formatting, key order, fields Warden does not know)
// exactly as sent, costs one pass that allocates only for escaped keys and
// objects of many keys, and what it refuses no correct client sends. Case variants are refused only where Warden reads,
// so a JSON schema in a tool definition may still have "Name" and "name".
//
// The check is one pass over the bytes with no reflection; the decode that
// follows (decode: encoding/json/v2 into typed structs) then reads exactly what a
// strict, case-sensitive parser reads, which the differential fuzz test
// FuzzForwardedEqualsInspected proves for every body the gateway forwards.

// maxDepth bounds the nesting of arrays and objects. JSON schemas in tool
// definitions nest, but not this deep.
const maxDepth = 128

// schema is what Warden reads at one place of a document: an object's
// fields by name or its values by any name, or an array's elements. A nil *schema is a place Warden
// does not read, where only duplicate keys are refused.
type schema struct {
	fields map[string]*schema
	values *schema // for objects: the schema of members not in fields (a map)
	items  *schema // for arrays: the schema of every element
}

func obj(fields map[string]*schema) *schema { return &schema{fields: fields} }

func list(items *schema) *schema { return &schema{items: items} }

// leaf is a field Warden reads whose value is a string, number or bool; as
// an array (prompt lists, token arrays) its elements are leaves too.
var leaf = &schema{}

func init() { leaf.items = leaf }

var (
	contentParts = list(obj(map[string]*schema{"type": leaf, "text": leaf, "refusal": leaf}))
	toolCalls    = list(obj(map[string]*schema{"function": obj(map[string]*schema{"name": leaf, "arguments": leaf})}))
	chatMessage  = obj(map[string]*schema{"role": leaf, "content": contentParts, "refusal": leaf, "tool_calls": toolCalls})
	itemSchema   = obj(map[string]*schema{"type": leaf, "role": leaf, "content": contentParts, "output": leaf, "arguments": leaf})

	// requestSchema is every place of a request body that Warden reads, in
	// the chat, completions, embeddings, images and Responses shapes (Azure
	// bodies are the same shapes).
	requestSchema = obj(map[string]*schema{
		"model": leaf, "stream": leaf, "user": leaf, "safety_identifier": leaf,
		"stream_options": obj(map[string]*schema{"include_usage": leaf}),
		"max_tokens":     leaf, "max_completion_tokens": leaf, "max_output_tokens": leaf,
		"temperature": leaf, "top_p": leaf, "presence_penalty": leaf, "frequency_penalty": leaf, "n": leaf,
		"messages": list(chatMessage),
		"tools":    list(obj(map[string]*schema{"description": leaf, "function": obj(map[string]*schema{"description": leaf})})),
		// A string or list (completions, images), or a Responses prompt
		// template whose variables are read.
		"prompt": &schema{items: leaf, fields: map[string]*schema{"id": leaf, "version": leaf,
			"variables": {values: obj(map[string]*schema{"type": leaf, "text": leaf})}}},
		"input":        list(itemSchema),
		"instructions": leaf, "size": leaf, "quality": leaf,
	})

	usageSchema = obj(map[string]*schema{"prompt_tokens": leaf, "completion_tokens": leaf, "input_tokens": leaf, "output_tokens": leaf})

	// answerSchema is every place of an answer (whole or one streamed
	// chunk) that Warden reads: for the guard on outputs, the usage
	// accounting and the stream relay.
	answerSchema = obj(map[string]*schema{
		"choices": list(obj(map[string]*schema{
			"message": chatMessage, "delta": chatMessage, "text": leaf, "index": leaf, "finish_reason": leaf,
		})),
		"output":   list(itemSchema),
		"usage":    usageSchema,
		"data":     leaf,
		"error":    obj(map[string]*schema{"code": leaf}),
		"type":     leaf,
		"delta":    leaf,
		"response": obj(map[string]*schema{"usage": usageSchema}),
	})
)

// member is one top-level member of the checked object, by byte offsets:
// the key's quoted string starts at key, its value spans [val, end).
type member struct {
	name          []byte // unescaped; a slice of the body unless it had escapes
	key, val, end int
}

// ijsonError says why a body is not accepted, and where.
type ijsonError struct {
	offset int
	msg    string
}

func (e *ijsonError) Error() string {
	return "gateway: body is not I-JSON at byte " + strconv.Itoa(e.offset) + ": " + e.msg
}

var errNotObject = errors.New("gateway: body is not a JSON object")

// checkIJSON checks that b is one JSON object that is I-JSON, with no
// duplicate keys at any depth and no case variants of the keys of sc where
// sc applies.
func checkIJSON(b []byte, sc *schema) error {
	_, err := check(b, sc, false)
	return err
}

// checkIJSONMembers is checkIJSON that also returns the top-level members
// in order.
func checkIJSONMembers(b []byte, sc *schema) ([]member, error) {
	return check(b, sc, true)
}

func check(b []byte, sc *schema, members bool) ([]member, error) {
	var keys [16][]byte // the open objects' keys: one allocation for most bodies
	c := checker{b: b, keys: keys[:0]}
	c.ws()
	if c.i >= len(b) || b[c.i] != '{' {
		return nil, errNotObject
	}
	if members {
		c.top = make([]member, 0, 16)
	}
	if err := c.object(sc, 1, members); err != nil {
		return nil, err
	}
	c.ws()
	if c.i != len(b) {
		return nil, c.fail("data after the object")
	}
	return c.top, nil
}

type checker struct {
	b    []byte
	i    int
	top  []member
	keys [][]byte // keys of the objects being read, innermost last
}

func (c *checker) fail(msg string) error { return &ijsonError{offset: c.i, msg: msg} }

func (c *checker) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *checker) value(sc *schema, depth int) error {
	if c.i >= len(c.b) {
		return c.fail("unexpected end")
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		return c.object(sc, depth+1, false)
	case ch == '[':
		return c.array(sc, depth+1)
	case ch == '"':
		_, err := c.str(false)
		return err
	case ch == '-' || ('0' <= ch && ch <= '9'):
		return c.number()
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	}
	return c.fail("unexpected character")
}

func (c *checker) literal(s string) error {
	if !bytes.HasPrefix(c.b[c.i:], []byte(s)) {
		return c.fail("invalid literal")
	}
	c.i += len(s)
	return nil
}

func (c *checker) number() error {
	b, i := c.b, c.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		c.i = i
		return c.fail("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(b, i+1); !ok {
			c.i = i
			return c.fail("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(b, i); !ok {
			c.i = i
			return c.fail("invalid number")
		}
	}
	c.i = i
	return nil
}

func (c *checker) array(sc *schema, depth int) error {
	if depth > maxDepth {
		return c.fail("nested too deep")
	}
	var items *schema
	if sc != nil {
		items = sc.items
	}
	c.i++ // [
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		c.ws()
		if err := c.value(items, depth); err != nil {
			return err
		}
		if more, err := c.next(']'); !more {
			return err
		}
	}
}

// next reads what follows an element of an array or a member of an
// object: a comma (more follow) or the closing bracket (done).
func (c *checker) next(closing byte) (more bool, err error) {
	c.ws()
	if c.i >= len(c.b) {
		return false, c.fail("unexpected end")
	}
	switch c.b[c.i] {
	case ',':
		c.i++
		return true, nil
	case closing:
		c.i++
		return false, nil
	}
	return false, c.fail("expected , or " + string(closing))
}

func (c *checker) object(sc *schema, depth int, top bool) error {
	if depth > maxDepth {
		return c.fail("nested too deep")
	}
	var fields map[string]*schema
	var values *schema
	if sc != nil {
		fields, values = sc.fields, sc.values
	}
	first := len(c.keys)
	var set map[string]struct{} // the object's keys, once it has many
	defer func() { c.keys = c.keys[:first] }()
	c.i++ // {
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		return nil
	}
	for {
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			return c.fail("expected a key")
		}
		keyAt := c.i
		k, err := c.str(true)
		if err != nil {
			return err
		}
		if err := c.noDuplicate(first, &set, k, keyAt); err != nil {
			return err
		}
		child, known := fields[string(k)]
		if !known {
			child = values
		}
		if !known && fields != nil {
			for name := range fields {
				if strings.EqualFold(string(k), name) {
					c.i = keyAt
					return c.fail("key " + strconv.Quote(truncate(string(k), 64)) + " is a case variant of " + strconv.Quote(name))
				}
			}
		}
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return c.fail("expected :")
		}
		c.i++
		c.ws()
		valAt := c.i
		if err := c.value(child, depth); err != nil {
			return err
		}
		if top {
			c.top = append(c.top, member{name: k, key: keyAt, val: valAt, end: c.i})
		}
		if more, err := c.next('}'); !more {
			return err
		}
	}
}

// smallObject is how many keys an object may have before duplicates are
// looked up in a map instead of by comparing with each earlier key.
const smallObject = 32

// noDuplicate records key k of the object whose keys start at c.keys[first]
// and fails if the object already has it.
func (c *checker) noDuplicate(first int, set *map[string]struct{}, k []byte, at int) error {
	dup := false
	if *set != nil {
		_, dup = (*set)[string(k)]
		if !dup {
			(*set)[string(k)] = struct{}{}
		}
	} else {
		for _, seen := range c.keys[first:] {
			if bytes.Equal(seen, k) {
				dup = true
				break
			}
		}
		c.keys = append(c.keys, k)
		if len(c.keys)-first > smallObject {
			*set = make(map[string]struct{}, 2*smallObject)
			for _, seen := range c.keys[first:] {
				(*set)[string(seen)] = struct{}{}
			}
		}
	}
	if dup {
		c.i = at
		return c.fail("duplicate key " + strconv.Quote(truncate(string(k), 64)))
	}
	return nil
}

// str reads a string at c.i (on its opening quote). When key is set it
// returns the unescaped text: a slice of b when there were no escapes, a
// fresh copy otherwise. It jumps from quote to quote and from backslash to
// backslash (bytes.IndexByte) instead of switching on every byte: the
// strings are most of a body.
func (c *checker) str(key bool) ([]byte, error) {
	b := c.b
	start := c.i + 1
	i := start
	escaped := false
	q := -1 // the next quote at or after i
	for {
		if q < i {
			n := bytes.IndexByte(b[i:], '"')
			if n < 0 {
				c.i = len(b)
				return nil, c.fail("unterminated string")
			}
			q = i + n
		}
		seg := b[i:q]
		esc := bytes.IndexByte(seg, '\\')
		if esc >= 0 {
			seg = seg[:esc]
		}
		for n, ch := range seg {
			if ch < 0x20 {
				c.i = i + n
				return nil, c.fail("control character in string")
			}
		}
		if esc < 0 {
			i = q // the closing quote
			break
		}
		escaped = true
		i += esc + 2 // the backslash and the byte it escapes (an escaped quote too)
		if i >= len(b) {
			c.i = len(b)
			return nil, c.fail("unterminated string")
		}
	}
	raw := b[start:i]
	c.i = i + 1
	if escaped {
		return c.unescape(raw, key)
	}
	if !utf8.Valid(raw) {
		return nil, c.fail("invalid UTF-8")
	}
	if key {
		return raw, nil
	}
	return nil, nil
}

// unescape checks a string with escapes (UTF-8, escapes, surrogate pairs)
// and, when keep is set (a key), returns its decoded text in a fresh slice.
// The text between escapes is checked as one run: a backslash is ASCII, so
// it never splits a UTF-8 sequence, and a value (most strings, and the long
// ones) is checked without copying a byte.
func (c *checker) unescape(raw []byte, keep bool) ([]byte, error) {
	var out []byte
	if keep {
		out = make([]byte, 0, len(raw))
	}
	for len(raw) > 0 {
		run := raw
		if j := bytes.IndexByte(raw, '\\'); j >= 0 {
			run = raw[:j]
		}
		if !utf8.Valid(run) {
			return nil, c.fail("invalid UTF-8")
		}
		if keep {
			out = append(out, run...)
		}
		raw = raw[len(run):]
		if len(raw) == 0 {
			break
		}
		r, n, err := c.escape(raw)
		if err != nil {
			return nil, err
		}
		if keep {
			out = utf8.AppendRune(out, r)
		}
		raw = raw[n:]
	}
	return out, nil
}

// escape decodes the escape at the start of raw (on its backslash): the
// rune it stands for and its length in bytes, a surrogate pair as one.
func (c *checker) escape(raw []byte) (rune, int, error) {
	if len(raw) < 2 {
		return 0, 0, c.fail("invalid escape")
	}
	switch raw[1] {
	case '"', '\\', '/':
		return rune(raw[1]), 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
		r, ok := hex4(raw[2:])
		if !ok {
			return 0, 0, c.fail("invalid \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, 6, nil
		}
		r2, ok := rune(0), false
		if len(raw) >= 8 && raw[6] == '\\' && raw[7] == 'u' {
			r2, ok = hex4(raw[8:])
		}
		d := utf16.DecodeRune(r, r2)
		if !ok || d == utf8.RuneError {
			return 0, 0, c.fail("unpaired surrogate")
		}
		return d, 12, nil
	}
	return 0, 0, c.fail("invalid escape")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, ch := range b[:4] {
		r <<= 4
		switch {
		case '0' <= ch && ch <= '9':
			r |= rune(ch - '0')
		case 'a' <= ch && ch <= 'f':
			r |= rune(ch - 'a' + 10)
		case 'A' <= ch && ch <= 'F':
			r |= rune(ch - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// digits skips the digits at b[i:] and returns where they end; ok says
// there was at least one, as a fraction and an exponent need.
func digits(b []byte, i int) (end int, ok bool) {
	s := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i, i > s
}
