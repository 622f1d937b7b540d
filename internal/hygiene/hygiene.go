// Package hygiene audits Warden keys for the practices that turn a leak
// into a bill: keys nobody uses, keys never rotated, and keys with no
// network, model, rate or budget limit. Each finding comes with the
// command that fixes it, e.g.
//
//	key_7kq2m4x9c3va5tbe  no_network_limit  high  usable from any network; last used from 203.0.113.7
//	  warden keys update key_7kq2m4x9c3va5tbe --cidr 203.0.113.0/24
//
// The audit is a pure function of key records, their monthly usage and the
// time (Audit); admin.KeyAuditHandler serves it on the admin API as
// GET /admin/v1/audit/keys, which `warden keys audit` calls.
package hygiene

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/live"
	"github.com/wardenhq/warden/internal/store"
)

// Checks, by name.
const (
	NeverUsed         = "never_used"
	Unused            = "unused"
	NotRotated        = "not_rotated"
	NoNetworkLimit    = "no_network_limit"
	NoModelLimit      = "no_model_limit"
	NoRateLimit       = "no_rate_limit"
	NoBudget          = "no_budget"
	BudgetAboveUse    = "budget_far_above_use"
	SeverityHigh      = "high"
	SeverityMedium    = "medium"
	SeverityLow       = "low"
	defaultRPMSuggest = 60
)

// Options are the audit's thresholds. Zero values take the defaults.
type Options struct {
	// NeverUsedAfter: a key never used this long after creation is flagged
	// (default 7 days; younger keys may simply not be deployed yet).
	NeverUsedAfter time.Duration
	// UnusedFor: a key not used for this long is flagged (default 30 days).
	UnusedFor time.Duration
	// RotateAfter: a key older than this that was never rotated is flagged
	// (default 90 days).
	RotateAfter time.Duration
	// BudgetFactor: a budget this many times the highest monthly spend of
	// the usage window is flagged (default 10), if the difference is at
	// least BudgetSlackUSD (default 50).
	BudgetFactor   float64
	BudgetSlackUSD float64
}

func (o *Options) defaults() {
	if o.NeverUsedAfter == 0 {
		o.NeverUsedAfter = 7 * 24 * time.Hour
	}
	if o.UnusedFor == 0 {
		o.UnusedFor = 30 * 24 * time.Hour
	}
	if o.RotateAfter == 0 {
		o.RotateAfter = 90 * 24 * time.Hour
	}
	if o.BudgetFactor == 0 {
		o.BudgetFactor = 10
	}
	if o.BudgetSlackUSD == 0 {
		o.BudgetSlackUSD = 50
	}
}

// Record is one key with its usage in the months of the window (any order).
type Record struct {
	Key   *keys.Key
	Usage []store.Spend
}

// Finding is one bad practice on one key.
type Finding struct {
	KeyID    string `json:"key_id"`
	Name     string `json:"name"`
	Owner    string `json:"owner,omitempty"`
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Detail   string `json:"detail"`
	// Fix is the command that fixes it ("" when only a person can).
	Fix string `json:"fix,omitempty"`
	// flags are the "keys update" flags of Fix, merged per key by Commands.
	flags []string
}

// Report is the audit's result.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	KeysAudited int       `json:"keys_audited"`
	Findings    []Finding `json:"findings"`
	// Commands are the fixes, one command per key and action.
	Commands []string `json:"commands"`
}

// Audit checks the active standard keys of recs at now. Revoked and
// suspended keys can do no harm; canaries are meant to be unused and
// unlimited.
func Audit(recs []Record, now time.Time, o Options) Report {
	o.defaults()
	rep := Report{GeneratedAt: now.UTC(), Findings: []Finding{}, Commands: []string{}}
	for _, r := range recs {
		k := r.Key
		if k == nil || k.Kind != keys.KindStandard || k.Status != keys.StatusActive {
			continue
		}
		if ok, _ := k.Usable(now); !ok {
			continue // expired or past its rotation grace
		}
		rep.KeysAudited++
		rep.Findings = append(rep.Findings, auditKey(k, peak(r.Usage), now, o)...)
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		return a.KeyID < b.KeyID
	})
	rep.Commands = commands(rep.Findings)
	return rep
}

func rank(sev string) int {
	switch sev {
	case SeverityHigh:
		return 0
	case SeverityMedium:
		return 1
	}
	return 2
}

func peak(us []store.Spend) float64 {
	p := 0.0
	for _, u := range us {
		p = math.Max(p, u.CostUSD)
	}
	return p
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

func auditKey(k *keys.Key, peakUSD float64, now time.Time, o Options) []Finding {
	var out []Finding
	add := func(check, sev, detail, fix string, flags ...string) {
		out = append(out, Finding{KeyID: k.ID, Name: k.Name, Owner: k.Owner, Check: check, Severity: sev, Detail: detail, Fix: fix, flags: flags})
	}
	age := now.Sub(k.CreatedAt)
	idle := true // flagged unused: its budget is moot
	switch {
	default:
		idle = false
	case k.LastUsedAt == nil && age >= o.NeverUsedAfter:
		add(NeverUsed, SeverityMedium, fmt.Sprintf("never used in the %d days since it was created; an unused key is only a liability", days(age)),
			fmt.Sprintf("warden keys suspend %s --reason %q", k.ID, "never used"))
	case k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) >= o.UnusedFor:
		add(Unused, SeverityMedium, fmt.Sprintf("not used for %d days (last from %s)", days(now.Sub(*k.LastUsedAt)), orUnknown(k.LastUsedIP)),
			fmt.Sprintf("warden keys suspend %s --reason %q", k.ID, fmt.Sprintf("unused for %d days", days(now.Sub(*k.LastUsedAt)))))
	}
	if age >= o.RotateAfter && k.RotatedTo == "" {
		add(NotRotated, SeverityMedium, fmt.Sprintf("%d days old and never rotated; a key that leaked long ago still works", days(age)),
			fmt.Sprintf("warden keys rotate %s --grace 7d", k.ID))
	}
	if len(k.CIDRs) == 0 {
		cidr, detail := suggestCIDR(k.LastUsedIP)
		add(NoNetworkLimit, SeverityHigh, "usable from any network"+detail, updateCmd(k.ID, "--cidr "+cidr), "--cidr "+cidr)
	}
	if len(k.Models) == 0 || slices.Contains(k.Models, "*") {
		add(NoModelLimit, SeverityMedium, "may use every model, including the most expensive ones", updateCmd(k.ID, "--models MODEL1,MODEL2"), "--models MODEL1,MODEL2")
	}
	if k.RPM == 0 && k.TPM == 0 {
		f := fmt.Sprintf("--rpm %d", defaultRPMSuggest)
		add(NoRateLimit, SeverityMedium, "no request or token rate limit: a thief can spend as fast as the upstream allows", updateCmd(k.ID, f), f)
	}
	switch {
	case k.MonthlyBudgetUSD == 0:
		b := math.Max(10, math.Ceil(2*peakUSD))
		f := fmt.Sprintf("--budget %g", b)
		add(NoBudget, SeverityHigh, fmt.Sprintf("no monthly budget (highest monthly spend seen: $%.2f)", peakUSD), updateCmd(k.ID, f), f)
	case !idle && age >= 30*24*time.Hour && k.MonthlyBudgetUSD >= o.BudgetFactor*peakUSD && k.MonthlyBudgetUSD-peakUSD >= o.BudgetSlackUSD:
		b := math.Max(10, math.Ceil(3*peakUSD))
		f := fmt.Sprintf("--budget %g", b)
		add(BudgetAboveUse, SeverityLow, fmt.Sprintf("budget $%.2f is far above the highest monthly spend $%.2f", k.MonthlyBudgetUSD, peakUSD), updateCmd(k.ID, f), f)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

// suggestCIDR proposes the network of the last address seen, as the
// console groups clients (live.NetworkOf): a /24 for IPv4, a /48 for IPv6.
func suggestCIDR(ip string) (string, string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "NETWORK/PREFIX", "; no use seen yet, so no network to suggest"
	}
	return live.NetworkOf(ip), "; last used from " + a.Unmap().String()
}

func updateCmd(id, flags string) string { return "warden keys update " + id + " " + flags }

// commands merges the update flags of each key into one command and keeps
// the other fixes as they are, in finding order.
func commands(fs []Finding) []string {
	out := []string{}
	updates := map[string][]string{}
	var order []string
	seen := map[string]bool{}
	for _, f := range fs {
		if len(f.flags) > 0 {
			if _, ok := updates[f.KeyID]; !ok {
				order = append(order, f.KeyID)
			}
			updates[f.KeyID] = append(updates[f.KeyID], f.flags...)
			continue
		}
		if f.Fix != "" && !seen[f.Fix] {
			seen[f.Fix] = true
			out = append(out, f.Fix)
		}
	}
	for _, id := range order {
		out = append(out, updateCmd(id, strings.Join(updates[id], " ")))
	}
	return out
}
