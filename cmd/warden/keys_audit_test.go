package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/hygiene"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// TestKeysAuditFindsPlantedPractices plants one bad practice per key (and
// keys that must not be flagged) in a real data directory and checks that
// `warden keys audit` reports exactly those, with fixes.
func TestKeysAuditFindsPlantedPractices(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db := openData(t, data)
	now := time.Now().UTC()
	day := 24 * time.Hour
	month := func(back int) string {
		f := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return f.AddDate(0, -back, 0).Format("2006-01")
	}
	// good is a key with every practice right; plant changes one thing.
	type plant struct {
		name    string
		want    string // the one finding expected; "" for none
		age     time.Duration
		lastUse time.Duration // ago; <0 never
		lastIP  string
		edit    func(k *keys.Key)
		spend   float64 // per month, over the last three
	}
	plants := []plant{
		{name: "good", age: 10 * day, lastUse: day},
		{name: "never-used", want: hygiene.NeverUsed, age: 40 * day, lastUse: -1},
		{name: "fresh-unused", age: 2 * day, lastUse: -1}, // too young to flag
		{name: "dormant", want: hygiene.Unused, age: 60 * day, lastUse: 45 * day},
		{name: "ancient", want: hygiene.NotRotated, age: 120 * day, lastUse: day, spend: 20},
		{name: "anywhere", want: hygiene.NoNetworkLimit, age: 10 * day, lastUse: day, lastIP: "198.51.100.23", edit: func(k *keys.Key) { k.CIDRs = nil }},
		{name: "any-model", want: hygiene.NoModelLimit, age: 10 * day, lastUse: day, edit: func(k *keys.Key) { k.Models = []string{"*"} }},
		{name: "no-rate", want: hygiene.NoRateLimit, age: 10 * day, lastUse: day, edit: func(k *keys.Key) { k.RPM, k.TPM = 0, 0 }},
		{name: "no-budget", want: hygiene.NoBudget, age: 10 * day, lastUse: day, spend: 30, edit: func(k *keys.Key) { k.MonthlyBudgetUSD = 0 }},
		{name: "fat-budget", want: hygiene.BudgetAboveUse, age: 60 * day, lastUse: day, spend: 4, edit: func(k *keys.Key) { k.MonthlyBudgetUSD = 1000 }},
		{name: "revoked-sloppy", age: 200 * day, lastUse: -1, edit: func(k *keys.Key) {
			k.Status, k.CIDRs, k.Models, k.RPM, k.MonthlyBudgetUSD = keys.StatusRevoked, nil, nil, 0, 0
		}},
		{name: "canary", age: 200 * day, lastUse: -1, edit: func(k *keys.Key) {
			k.Kind, k.CIDRs, k.Models, k.RPM, k.MonthlyBudgetUSD = keys.KindCanary, nil, nil, 0, 0
		}},
	}
	ids := map[string]string{}
	for i, p := range plants {
		sec, _ := keys.Generate(nil)
		k := keys.FromSpec(keys.Spec{Name: p.name, Models: []string{"mock-echo"}, CIDRs: []string{"203.0.113.0/24"},
			RPM: 60, MonthlyBudgetUSD: 100}, sec.Hash(), now.Add(-p.age))
		if p.edit != nil {
			p.edit(k)
		}
		if err := db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		ids[k.ID] = p.name
		if p.lastUse >= 0 {
			ip := p.lastIP
			if ip == "" {
				ip = fmt.Sprintf("203.0.113.%d", i+1)
			}
			if err := db.TouchKeys(ctx, []store.KeyUse{{ID: k.ID, At: now.Add(-p.lastUse), IP: ip}}); err != nil {
				t.Fatal(err)
			}
		}
		for m := 0; m < 3 && p.spend > 0; m++ {
			db.AddUsage(ctx, k.ID, month(m), store.Spend{Requests: 100, CostUSD: p.spend})
		}
	}
	db.Close()

	out, code := runCLI(t, "keys", "audit", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var rep hygiene.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string][]string{}
	for _, f := range rep.Findings {
		got[ids[f.KeyID]] = append(got[ids[f.KeyID]], f.Check)
		if f.Fix == "" || !strings.Contains(f.Fix, f.KeyID) {
			t.Errorf("%s/%s: no fix: %q", ids[f.KeyID], f.Check, f.Fix)
		}
	}
	for _, p := range plants {
		var want []string
		if p.want != "" {
			want = []string{p.want}
		}
		if fmt.Sprint(got[p.name]) != fmt.Sprint(want) {
			t.Errorf("%s: findings %v, want %v", p.name, got[p.name], want)
		}
	}
	if rep.KeysAudited != 10 {
		t.Errorf("audited %d keys, want 10 (not the revoked key or the canary)", rep.KeysAudited)
	}
	// The fixes carry what was learned: the network last seen, a budget
	// from the spend.
	text, _ := runCLI(t, "keys", "audit", "--fix", "--data", data)
	for _, want := range []string{"--cidr 198.51.100.0/24", "--budget 60", "--budget 12", "warden keys rotate", "warden keys suspend", "--models MODEL"} {
		if !strings.Contains(text, want) {
			t.Errorf("--fix output lacks %q:\n%s", want, text)
		}
	}
}
