package gateway

import (
	"bytes"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// Annotating answers the Azure way.
//
// Azure OpenAI adds content_filter_results to every choice of an answer and
// prompt_filter_results to the answer, and Azure SDKs and applications read
// them, so Warden adds its own verdicts to every answer an Azure-style client
// gets. That used to be a decode of the whole answer into a map and a
// re-encoding, which sorted the upstream's keys and cost as much as the
// guard's look at the answer; splicing the members in costs one streaming
// pass and keeps the answer as the upstream wrote it (less its whitespace).

// jsonMember is one member to set in an object.
type jsonMember struct {
	name  string
	value jsontext.Value
}

// annotate returns the answer b with the members top set at its top level
// and the members choice set in every object of its top-level "choices"
// array. A member of the same name already there is replaced (the new one
// stands last in its object); everything else keeps its order and spelling.
// b must be an object (the answer passed the I-JSON check).
func annotate(b []byte, top, choice []jsonMember) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	var out bytes.Buffer
	out.Grow(len(b) + 1024)
	enc := jsontext.NewEncoder(&out, jsontext.PreserveRawStrings(true))
	choices := func(name string) (bool, error) {
		if name != "choices" || dec.PeekKind() != '[' {
			return false, nil
		}
		if err := copyToken(dec, enc); err != nil { // [
			return true, err
		}
		for dec.PeekKind() != ']' {
			var err error
			if dec.PeekKind() == '{' {
				err = copyObject(dec, enc, choice, nil)
			} else {
				err = copyValue(dec, enc)
			}
			if err != nil {
				return true, err
			}
		}
		return true, copyToken(dec, enc) // ]
	}
	if err := copyObject(dec, enc, top, choices); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errNotObject // trailing data; the I-JSON check refuses it first
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// copyObject copies the object at dec to enc without the members named in
// set, and writes set's members before its closing brace. inner, when not
// nil, is offered each member's value after its name is written: it copies
// the value itself and reports true, or leaves it to the plain copy.
func copyObject(dec *jsontext.Decoder, enc *jsontext.Encoder, set []jsonMember, inner func(name string) (bool, error)) error {
	if dec.PeekKind() != '{' {
		return errNotObject
	}
	if err := copyToken(dec, enc); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		n := name.String()
		if named(set, n) {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if err := enc.WriteToken(name); err != nil {
			return err
		}
		if inner != nil {
			if done, err := inner(n); done || err != nil {
				if err != nil {
					return err
				}
				continue
			}
		}
		if err := copyValue(dec, enc); err != nil {
			return err
		}
	}
	for _, m := range set {
		if err := enc.WriteToken(jsontext.String(m.name)); err != nil {
			return err
		}
		if err := enc.WriteValue(m.value); err != nil {
			return err
		}
	}
	return copyToken(dec, enc) // }
}

func named(set []jsonMember, name string) bool {
	for _, m := range set {
		if m.name == name {
			return true
		}
	}
	return false
}

func copyToken(dec *jsontext.Decoder, enc *jsontext.Encoder) error {
	t, err := dec.ReadToken()
	if err != nil {
		return err
	}
	return enc.WriteToken(t)
}

func copyValue(dec *jsontext.Decoder, enc *jsontext.Encoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return enc.WriteValue(v)
}
