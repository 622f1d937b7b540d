package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/<pid>/stat's CPU times: 100 on every Linux
// build that matters here (USER_HZ; reading it needs sysconf, which needs cgo).
const userHZ = 100

// cpuShares is CPU time spent, by the machine's parts: the Warden
// instances, PostgreSQL's processes, Redis, and this process (the load
// generator). On two shared cores a deployment that costs more CPU per
// request serves fewer requests, whoever spends it, so the report shows
// every part's CPU per request, not only Warden's.
type cpuShares struct {
	warden, postgres, redis, client time.Duration
}

// readCPU sums the CPU time (user and system) so far of the processes in
// instances, of every process named postgres or redis-server, and of this
// one. Outside Linux it returns zeros.
func readCPU(instances []int) cpuShares {
	var c cpuShares
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || close+2 > len(s) {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		f := strings.Fields(s[close+2:])
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		d := time.Duration(utime+stime) * time.Second / userHZ
		switch comm := s[open+1 : close]; {
		case pid == self:
			c.client += d
		case comm == "postgres":
			c.postgres += d
		case comm == "redis-server":
			c.redis += d
		default:
			for _, p := range instances {
				if p == pid {
					c.warden += d
				}
			}
		}
	}
	return c
}

// perRequest is the CPU per request between two readings.
func (c cpuShares) perRequest(before cpuShares, requests int64) cpuShares {
	if requests <= 0 {
		return cpuShares{}
	}
	per := func(a, b time.Duration) time.Duration { return (a - b) / time.Duration(requests) }
	return cpuShares{per(c.warden, before.warden), per(c.postgres, before.postgres), per(c.redis, before.redis), per(c.client, before.client)}
}

func (c cpuShares) String() string {
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	return us(c.warden) + " / " + us(c.postgres) + " / " + us(c.redis) + " / " + us(c.client) + " µs"
}
