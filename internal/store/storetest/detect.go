package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// DetectStore is a backend that also keeps detector state.
type DetectStore interface {
	store.Store
	store.Detect
}

// RunDetect runs the conformance suite of store.Profiles and store.Incidents.
// open must return an empty store; RunDetect closes it.
func RunDetect(t *testing.T, open func(t *testing.T) DetectStore) {
	runCases(t, open, []testCase[DetectStore]{
		{"Profiles", testProfiles},
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"IncidentList", testIncidentList},
		{"IncidentNoReopen", testIncidentNoReopen},
	})
}

func testProfiles(t *testing.T, s DetectStore) {
	ctx := context.Background()
	if _, err := s.ProfileOf(ctx, "key_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing profile: %v", err)
	}
	at := time.Unix(1800000000, 5).UTC()
	if err := s.PutProfiles(ctx, []store.Profile{{KeyID: "key_a", Data: []byte("v1"), UpdatedAt: at}, {KeyID: "key_b", Data: []byte{0, 1, 2}, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutProfiles(ctx, []store.Profile{{KeyID: "key_a", Data: []byte("v2"), UpdatedAt: at.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.ProfileOf(ctx, "key_a")
	if err != nil || string(p.Data) != "v2" || !p.UpdatedAt.Equal(at.Add(time.Second)) {
		t.Errorf("key_a = %+v, %v", p, err)
	}
	if p, err := s.ProfileOf(ctx, "key_b"); err != nil || len(p.Data) != 3 || p.Data[2] != 2 {
		t.Errorf("key_b = %+v, %v", p, err)
	}
	if err := s.PutProfiles(ctx, []store.Profile{{KeyID: "", Data: []byte("x")}}); err == nil {
		t.Error("profile without key id accepted")
	}
}

func sampleIncident(id, key string, opened time.Time) *incident.Incident {
	return &incident.Incident{
		ID: id, KeyID: key, KeyOwner: "acme", Status: incident.StatusOpen, Severity: incident.SevHigh,
		Action: "step_up", Title: "test", OpenedAt: opened, UpdatedAt: opened, Risk: 55.5, Requests: 3, SpendUSD: 0.25,
		Timeline: []incident.Entry{{TS: opened, Kind: "signal", Name: "probe", Severity: incident.SevMedium, Reason: "r", Weight: 15,
			Evidence: map[string]string{"network": "203.0.113.0/24"}}},
		Evidence: incident.Evidence{Networks: []string{"203.0.113.0/24"}},
	}
}

func testIncidentRoundTrip(t *testing.T, s DetectStore) {
	ctx := context.Background()
	at := time.Unix(1800000000, 0).UTC()
	in := sampleIncident("inc_1", "key_a", at)
	if err := s.PutIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.IncidentByID(ctx, "inc_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != "key_a" || got.Risk != 55.5 || len(got.Timeline) != 1 || got.Timeline[0].Evidence["network"] != "203.0.113.0/24" ||
		!got.OpenedAt.Equal(at) || got.Evidence.Networks[0] != "203.0.113.0/24" {
		t.Errorf("got %+v", got)
	}
	in.Requests = 10
	in.Status = incident.StatusResolved
	if err := s.PutIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.IncidentByID(ctx, "inc_1"); got.Requests != 10 || got.Status != incident.StatusResolved {
		t.Errorf("update lost: %+v", got)
	}
	if _, err := s.IncidentByID(ctx, "inc_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing incident: %v", err)
	}
	if err := s.PutIncident(ctx, &incident.Incident{ID: "x"}); err == nil {
		t.Error("incident without key accepted")
	}
}

func testIncidentList(t *testing.T, s DetectStore) {
	ctx := context.Background()
	base := time.Unix(1800000000, 0).UTC()
	for i := range 5 {
		in := sampleIncident(fmt.Sprintf("inc_%d", i), []string{"key_a", "key_b"}[i%2], base.Add(time.Duration(i)*time.Minute))
		if i == 4 {
			in.Status = incident.StatusResolved
		}
		if err := s.PutIncident(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil || len(all) != 5 || all[0].ID != "inc_4" || all[4].ID != "inc_0" {
		t.Fatalf("all: %d %v", len(all), err)
	}
	if a, _ := s.ListIncidents(ctx, store.IncidentFilter{KeyID: "key_a"}); len(a) != 3 {
		t.Errorf("key filter: %d", len(a))
	}
	if open, _ := s.ListIncidents(ctx, store.IncidentFilter{Status: incident.StatusOpen}); len(open) != 4 {
		t.Errorf("status filter: %d", len(open))
	}
	if recent, _ := s.ListIncidents(ctx, store.IncidentFilter{Since: base.Add(3 * time.Minute), Limit: 1}); len(recent) != 1 || recent[0].ID != "inc_4" {
		t.Errorf("since+limit: %v", recent)
	}
	if none, err := s.ListIncidents(ctx, store.IncidentFilter{KeyID: "key_none"}); err != nil || none == nil || len(none) != 0 {
		t.Errorf("empty list must be non-nil and empty: %v %v", none, err)
	}
}

func testIncidentNoReopen(t *testing.T, s DetectStore) {
	ctx := context.Background()
	in := sampleIncident("inc_r", "key_a", time.Unix(1800000000, 0).UTC())
	in.Status = incident.StatusResolved
	if err := s.PutIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Status = incident.StatusOpen
	if err := s.PutIncident(ctx, in); !errors.Is(err, store.ErrConflict) {
		t.Errorf("reopen: err = %v, want ErrConflict", err)
	}
}
