package store

import (
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []int
		bad   bool
	}{
		{"ordered by number", fstest.MapFS{"m/0010_b.sql": file("B"), "m/0002_a.sql": file("A"), "m/0001_x.sql": file("X")}, []int{1, 2, 10}, false},
		{"no number", fstest.MapFS{"m/core.sql": file("")}, nil, true},
		{"not sql", fstest.MapFS{"m/0001_core.txt": file("")}, nil, true},
		{"same version twice", fstest.MapFS{"m/0001_a.sql": file(""), "m/01_b.sql": file("")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Migrations(tt.files, "m")
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted %v", ms)
				}
				return
			}
			if err != nil || len(ms) != len(tt.want) {
				t.Fatalf("%v %v", ms, err)
			}
			for i, m := range ms {
				if m.Version != tt.want[i] {
					t.Errorf("[%d] = %d, want %d", i, m.Version, tt.want[i])
				}
			}
			if ms[0].SQL != "X" {
				t.Errorf("body %q", ms[0].SQL)
			}
		})
	}
}
