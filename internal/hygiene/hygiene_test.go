package hygiene

import (
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// The networks themselves are live.NetworkOf's (tested there); what is
// hygiene's own is the placeholder without an address and the detail.
func TestSuggestCIDR(t *testing.T) {
	for _, tc := range []struct{ ip, cidr, detail string }{
		{"::ffff:198.51.100.9", "198.51.100.0/24", "; last used from 198.51.100.9"},
		{"2001:db8:aa:bb::1", "2001:db8:aa::/48", "; last used from 2001:db8:aa:bb::1"},
		{"", "NETWORK/PREFIX", "; no use seen yet, so no network to suggest"},
		{"not an address at all", "NETWORK/PREFIX", "; no use seen yet, so no network to suggest"},
	} {
		if cidr, detail := suggestCIDR(tc.ip); cidr != tc.cidr || detail != tc.detail {
			t.Errorf("%q: %s%s, want %s%s", tc.ip, cidr, detail, tc.cidr, tc.detail)
		}
	}
}

func TestAuditThresholds(t *testing.T) {
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	used := now.Add(-day)
	k := func(age time.Duration, budget float64) *keys.Key {
		return &keys.Key{ID: "key_a", Name: "a", Kind: keys.KindStandard, Status: keys.StatusActive, CreatedAt: now.Add(-age),
			LastUsedAt: &used, LastUsedIP: "192.0.2.1", CIDRs: []string{"192.0.2.0/24"}, Models: []string{"m"}, RPM: 1, MonthlyBudgetUSD: budget}
	}
	tests := []struct {
		name  string
		key   *keys.Key
		spend float64
		want  string
	}{
		{"budget 10x but small slack", k(60*day, 40), 4, ""},
		{"budget 10x and large slack", k(60*day, 100), 5, BudgetAboveUse},
		{"budget fits", k(60*day, 100), 50, ""},
		{"too young for a budget verdict", k(10*day, 1000), 1, ""},
		{"rotated keys are not flagged", func() *keys.Key { x := k(200*day, 100); x.RotatedTo = "key_b"; return x }(), 50, ""},
	}
	for _, tc := range tests {
		rep := Audit([]Record{{Key: tc.key, Usage: []store.Spend{{CostUSD: tc.spend}}}}, now, Options{})
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Check)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, got, tc.want)
		}
	}
}
