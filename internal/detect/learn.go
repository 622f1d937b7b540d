// Learning: how an event changes a key's profile and its baselines.

package detect

import (
	"math"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

func hourOfDay(ns int64) int { return int((ns / int64(time.Hour)) % 24) }

// restHours is the union of the active hours of the days before today:
// bits left zero are hours the key rests.
func (p *profile) restHours() uint32 { return p.baseHours(1) }

// baseHours is the union of active hours over the stored days at least
// skip days before the current one.
func (p *profile) baseHours(skip int64) uint32 {
	var m uint32
	for k := skip; k < 7; k++ {
		if p.Day-k < 0 {
			break
		}
		m |= p.DayMask[(p.Day-k)%7]
	}
	return m
}

// roll ends the current hour (and day) if now is past it, folding its
// counts into the baselines. Hours inside an incident are not learned.
func (p *profile) roll(now int64) {
	h := now / int64(time.Hour)
	if p.Hour == 0 {
		p.Hour = h
		p.Day = h / 24
	}
	if h > p.Hour {
		gap := h - p.Hour
		if p.Level == levelNone {
			decay := math.Pow(0.995, float64(gap))
			p.RootPeak = max(p.RootPeak*decay, p.Roots.count())
			p.UserPeak = max(p.UserPeak*decay, p.Users.count())
			p.CostPeak = max(p.CostPeak*decay, p.HourCost)
		}
		if gap >= 32 {
			p.Active24 = 0
		} else {
			p.Active24 <<= uint(gap)
		}
		p.Roots, p.Users, p.Shared = sketch{}, sketch{}, [4]uint64{}
		p.HourReq, p.HourCost, p.Fired = 0, 0, 0
		p.Hour = h
	}
	if day := h / 24; day > p.Day {
		for d := p.Day + 1; d <= day && d <= p.Day+7; d++ {
			p.DayMask[d%7] = 0
		}
		p.Day = day
	}
}

// learn adds e to the profile. Clients that raise signals during an
// incident that led to containment are tainted: they never become known, so an attacker cannot wait
// his way into the step-up allow-list.
func (d *Detector) learn(p *profile, e *event.Event, c *client, now int64, suspicious bool) {
	m := minutes(now)
	first := p.firstClient()
	p.N++
	if e.Client.SDKHeaders {
		p.SDK++
	}
	if e.Client.UserAgent != "" {
		p.UA++
	}
	if filledDefaults(&e.Features) {
		p.Filled++
	}
	if e.Features.ImageQuality == "hd" {
		p.HD++
	}
	if flagged(e) {
		p.Flags++
		p.Streak++
	} else {
		p.Streak = 0
	}
	if e.CostUSD > 0 {
		p.CostN++
		p.CostS += e.CostUSD
	}
	if e.Status == 429 {
		p.Last429, p.RetryAfter, p.Last429Root = now, int64(e.RetryAfter), fnv(e.Features.ConvRoot)
	}
	if c.netH != 0 {
		p.Nets.add(c.netH, m, maxNets, d.known)
	}
	p.FPs.add(c.fpH, m, maxFPs, d.known)
	if first {
		p.FirstDone = true
		if p.TrustFirst {
			if ne := p.Nets.find(c.netH); ne != nil {
				ne.Own = true
			}
			if fe := p.FPs.find(c.fpH); fe != nil {
				fe.Own = true
			}
		}
	}
	if e.Model != "" {
		p.Models.add(fnv(e.Model), m, maxModels, d.known)
	}
	if suspicious && p.inc != nil && p.inc.Action != "" && p.inc.Action != ActionAlert {
		if ne := p.Nets.find(c.netH); ne != nil && !d.known.known(*ne) {
			ne.Taint = true
		}
		if fe := p.FPs.find(c.fpH); fe != nil && !d.known.known(*fe) {
			fe.Taint = true
		}
	}
	how := int((now/int64(time.Hour) + 72) % 168) // 1970-01-01 was a Thursday: +72 h makes Monday 0
	if p.Week[how] < math.MaxUint16 {
		p.Week[how]++
	}
	p.HourReq++
	p.HourCost += e.CostUSD
	p.Active24 |= 1
	p.DayMask[p.Day%7] |= 1 << hourOfDay(now)
}

// firstClient reports whether the next event is the key's first (or the
// first since it inherited its predecessor's profile in a rotation).
// Profiles saved before FirstDone existed have N > 0 and count as done.
func (p *profile) firstClient() bool {
	return !p.FirstDone && (p.N == 0 || p.Inherited != "")
}
