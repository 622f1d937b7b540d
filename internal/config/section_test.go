package config

import (
	"strings"
	"testing"
)

type sample struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
}

func TestSectionDecodesStrictly(t *testing.T) {
	tests := []struct {
		name, doc string
		want      sample
		err       string
	}{
		{"absent", "listen: 127.0.0.1:1\n", sample{Name: "default"}, ""},
		{"null", "detect:\n", sample{Name: "default"}, ""},
		{"fields", "detect:\n  name: x\n  count: 3\n", sample{Name: "x", Count: 3}, ""},
		{"unknown field", "detect:\n  name: x\n  cuont: 3\n", sample{}, "cuont"},
		{"wrong type", "detect:\n  count: many\n", sample{}, "many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			got := sample{Name: "default"}
			err = c.Detect.Decode(&got)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestSectionOfRoundTrips(t *testing.T) {
	s, err := SectionOf(sample{Name: "n", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got sample
	if err := s.Decode(&got); err != nil || got != (sample{Name: "n", Count: 2}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if (Section{}).IsZero() != true || s.IsZero() {
		t.Fatal("IsZero wrong")
	}
}
