package incident

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestSeverityRank(t *testing.T) {
	order := []string{SevInfo, SevLow, SevMedium, SevHigh, SevCritical}
	for i := 1; i < len(order); i++ {
		if SeverityRank(order[i]) <= SeverityRank(order[i-1]) {
			t.Errorf("%s ranks not above %s", order[i], order[i-1])
		}
	}
	if SeverityRank("bogus") != 0 || SeverityRank(SevInfo) == 0 {
		t.Error("unknown severities must rank 0, known ones above")
	}
}

// TestTimelineKeepsActions: past the cap, the oldest signals go; actions stay.
func TestTimelineKeepsActions(t *testing.T) {
	in := &Incident{Severity: SevInfo}
	in.AddEntry(Entry{TS: t0, Kind: "action", Name: "step_up", Severity: SevHigh})
	for i := range MaxTimeline + 50 {
		in.AddEntry(Entry{TS: t0.Add(time.Duration(i+1) * time.Second), Kind: "signal", Name: fmt.Sprint(i), Severity: SevLow})
	}
	if len(in.Timeline) != MaxTimeline {
		t.Fatalf("timeline %d entries, cap %d", len(in.Timeline), MaxTimeline)
	}
	if in.Timeline[0].Kind != "action" {
		t.Errorf("the action was dropped: first entry %+v", in.Timeline[0])
	}
	if last := in.Timeline[len(in.Timeline)-1]; last.Name != fmt.Sprint(MaxTimeline+49) {
		t.Errorf("newest signal lost: %+v", last)
	}
	if in.Severity != SevHigh {
		t.Errorf("severity %s, want the highest entry's (high)", in.Severity)
	}
	if !in.UpdatedAt.Equal(t0.Add(time.Duration(MaxTimeline+50) * time.Second)) {
		t.Errorf("updated_at %v", in.UpdatedAt)
	}
}

func TestEvidenceCaps(t *testing.T) {
	var list []string
	for i := range MaxValues + 5 {
		list = AddValue(list, fmt.Sprint(i%(MaxValues+2)))
		list = AddValue(list, "")
	}
	if len(list) != MaxValues || list[0] != "0" {
		t.Errorf("values %v", list)
	}
	in := &Incident{}
	e := &event.Event{ID: "r1", Client: event.Client{HeaderNames: []string{"host"}}}
	for range MaxSamples + 3 {
		in.AddSample(e)
	}
	if len(in.Evidence.Samples) != MaxSamples {
		t.Errorf("%d samples, cap %d", len(in.Evidence.Samples), MaxSamples)
	}
	e.Client.HeaderNames[0] = "changed" // the sample is a copy
	if in.Evidence.Samples[0].Client.HeaderNames[0] != "host" {
		t.Error("sample shares the event's slices")
	}
}

func TestFromLeak(t *testing.T) {
	l := Leak{KeyID: "k1", KeyOwner: "acme", KeyKind: "standard", Where: "src/app.js:12", By: "scanner", At: t0}
	a, b := FromLeak(l), FromLeak(l)
	if a.ID != b.ID || a.ID == "" {
		t.Errorf("ids %q %q: want the same non-empty id for the same leak", a.ID, b.ID)
	}
	l.At = t0.Add(time.Second)
	if FromLeak(l).ID == a.ID {
		t.Error("a later leak of the same key got the same id")
	}
	if a.Status != StatusOpen || a.Action != "revoke" || len(a.Timeline) != 2 || a.Timeline[1].Kind != "action" {
		t.Errorf("leak incident %+v", a)
	}
}
