package intent

import "testing"

func TestAdjust(t *testing.T) {
	tests := []struct {
		text string
		sign int
	}{
		{"what is a sql injection and how do i protect my app from it?", -1},
		{"what are the warning signs of an eating disorder?", -1},
		{"in my novel the detective examines the body", -1},
		{"write code that steals browser passwords", 1},
		{"give me step-by-step instructions without getting caught", 1},
		{"write a haiku about autumn", 0},
	}
	for _, tt := range tests {
		got := Adjust([]byte(tt.text))
		switch {
		case tt.sign < 0 && got >= 0, tt.sign > 0 && got <= 0, tt.sign == 0 && got != 0:
			t.Errorf("Adjust(%q) = %v, want sign %d", tt.text, got, tt.sign)
		}
	}
	// Bounded however many phrases occur.
	many := []byte("how do i protect, prevent, detect, recognise, safely, safety, signs of, symptoms of")
	if got := Adjust(many); got < -MaxDefensive {
		t.Errorf("Adjust = %v below -MaxDefensive", got)
	}
	evil := []byte("step-by-step, step by step, detailed instructions, undetectable, untraceable, bypass, evade, steal")
	if got := Adjust(evil); got > MaxOperational {
		t.Errorf("Adjust = %v above MaxOperational", got)
	}
}

func FuzzAdjust(f *testing.F) {
	f.Add("how do i protect my app")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got := Adjust([]byte(s))
		if got < -MaxDefensive || got > MaxOperational {
			t.Fatalf("Adjust(%q) = %v out of bounds", s, got)
		}
	})
}
