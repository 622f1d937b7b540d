package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Section is a part of the document that a feature package owns: its
// shape is that package's own config type (detect.Config, audit.Config,
// moderator.Config), so this package imports no feature and a feature can
// change its fields without touching config. The assembly (package warden)
// decodes every section when the server starts, with Decode, which is as
// strict as the rest of the file: an unknown field is an error.
type Section struct {
	node *yaml.Node // nil: absent from the document
}

// UnmarshalYAML keeps the section's node for Decode.
func (s *Section) UnmarshalYAML(n *yaml.Node) error {
	c := *n
	s.node = &c
	return nil
}

// MarshalYAML writes the section back as it was read.
func (s Section) MarshalYAML() (any, error) {
	if s.node == nil {
		return nil, nil
	}
	return s.node, nil
}

// IsZero reports whether the document had no such section (or it was
// empty); Decode then leaves its target as it is.
func (s Section) IsZero() bool {
	return s.node == nil || s.node.Kind == 0 || (s.node.Kind == yaml.ScalarNode && s.node.Tag == "!!null")
}

// Decode decodes the section into v (a pointer to the feature's config
// type) strictly: a field v does not have is an error, so a typo never
// silently disables a defence. An absent section leaves v unchanged.
func (s Section) Decode(v any) error {
	if s.IsZero() {
		return nil
	}
	b, err := yaml.Marshal(s.node)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// SectionOf makes a section from a value of a feature's config type, for
// configurations built in code (tests, replay).
func SectionOf(v any) (Section, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return Section{}, fmt.Errorf("config: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return Section{}, fmt.Errorf("config: %w", err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	return Section{node: &n}, nil
}
