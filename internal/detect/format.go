package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/incident"
)

// FormatIncident renders an incident as a human-readable timeline.
func FormatIncident(in *incident.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Incident %s  [%s, %s]\n", in.ID, in.Status, in.Severity)
	owner := ""
	if in.KeyOwner != "" {
		owner = " (owner " + in.KeyOwner + ")"
	}
	fmt.Fprintf(&b, "Key %s%s, %s key\n", in.KeyID, owner, in.KeyKind)
	fmt.Fprintf(&b, "Opened %s, last activity %s\n", in.OpenedAt.Format(time.RFC3339), in.UpdatedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "Action taken: %s   risk %.0f   requests %d (refused %d)   spend $%.4f\n", in.Action, in.Risk, in.Requests, in.Refused, in.SpendUSD)
	if in.Status == incident.StatusResolved && in.ResolvedAt != nil {
		fmt.Fprintf(&b, "Resolved %s by %s: %s\n", in.ResolvedAt.Format(time.RFC3339), in.ResolvedBy, in.Resolution)
	}
	b.WriteString("\nTimeline\n")
	start := in.OpenedAt
	if len(in.Timeline) > 0 && in.Timeline[0].TS.Before(start) {
		start = in.Timeline[0].TS
	}
	for _, e := range in.Timeline {
		mark := "  "
		if e.Kind == "action" {
			mark = "=>"
		}
		fmt.Fprintf(&b, "  %s +%-9s %-8s %-20s %s\n", mark, e.TS.Sub(start).Round(time.Second), e.Severity, e.Name, e.Reason)
	}
	ev := in.Evidence
	b.WriteString("\nEvidence\n")
	fmt.Fprintf(&b, "  networks:     %s\n", strings.Join(ev.Networks, ", "))
	fmt.Fprintf(&b, "  user agents:  %s\n", strings.Join(ev.UserAgents, ", "))
	fmt.Fprintf(&b, "  fingerprints: %s\n", strings.Join(ev.Fingerprints, ", "))
	for i, s := range ev.Samples {
		if i == 5 {
			fmt.Fprintf(&b, "  … %d more sample requests (--json shows all)\n", len(ev.Samples)-5)
			break
		}
		fmt.Fprintf(&b, "  sample: %s %s %s from %s → %d %s\n", s.Time.Format(time.RFC3339), s.Method, s.Path, s.ClientIP, s.Status, s.ErrorCode)
	}
	return b.String()
}
