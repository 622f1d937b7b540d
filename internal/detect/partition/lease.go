// Owning: membership, leases, fair shares and handover.

package partition

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/redis/go-redis/v9"
)

// heartbeat records this member until now+ttl (Redis time, so instances'
// clocks do not matter), drops expired members and returns how many are
// live.
var heartbeat = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])`)

// whileOwned makes a script that runs body only while the lease KEYS[1]
// still holds our token ARGV[1]: it returns 1 if body ran, else 0. Every
// write of a lease holder goes through it, so an instance whose lease
// expired and was claimed by another can change nothing.
func whileOwned(body string) *redis.Script {
	return redis.NewScript("if redis.call('GET', KEYS[1]) == ARGV[1] then\n" + body + "\n  return 1\nend\nreturn 0")
}

// renew extends the lease if it is still ours: 1, else 0.
var renew = whileOwned(`  redis.call('PEXPIRE', KEYS[1], ARGV[2])`)

// release deletes the lease if it is still ours, writing the cursor
// first: 1, else 0 (the cursor is then not ours to write).
var release = whileOwned(`  if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
  redis.call('DEL', KEYS[1])`)

// saveCursor writes the cursor if the lease is still ours.
var saveCursor = whileOwned(`  redis.call('SET', KEYS[2], ARGV[2])`)

// maintain heartbeats, renews the leases held, then claims or releases
// partitions towards the fair share.
func (f *Feed) maintain(ctx context.Context) error {
	ttl := f.opt.Lease.Milliseconds()
	tctx, cancel := f.timeout(ctx)
	live, err := heartbeat.Run(tctx, f.rdb, []string{f.membersKey()}, f.id, ttl*2/3).Int()
	cancel()
	if err != nil {
		return fmt.Errorf("partition: heartbeat: %w", err)
	}
	if err := f.renewAll(ctx); err != nil {
		return err
	}
	share := (Partitions + max(live, 1) - 1) / max(live, 1)
	switch {
	case len(f.parts) > share:
		f.releaseSome(ctx, len(f.parts)-share)
	case len(f.parts) < share:
		return f.claim(ctx, share-len(f.parts))
	}
	return nil
}

// renewAll extends every lease held; a lease found lost (this instance
// stalled longer than the lease) is dropped without writing its cursor.
func (f *Feed) renewAll(ctx context.Context) error {
	if len(f.parts) == 0 {
		return nil
	}
	tctx, cancel := f.timeout(ctx)
	defer cancel()
	cmds := map[int]*redis.Cmd{}
	_, err := f.rdb.Pipelined(tctx, func(p redis.Pipeliner) error {
		for n := range f.parts {
			cmds[n] = renew.Eval(tctx, p, []string{f.ownerKey(n)}, f.id, f.opt.Lease.Milliseconds())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition: renewing leases: %w", err)
	}
	for n, c := range cmds {
		if v, _ := c.Int(); v != 1 {
			f.log.Warn("partition: lease lost", "partition", n)
			f.drop(ctx, n)
		}
	}
	return nil
}

// claim takes up to want free partitions, starting at a random one so
// that instances starting together spread out.
func (f *Feed) claim(ctx context.Context, want int) error {
	start := rand.IntN(Partitions)
	for i := range Partitions {
		if want == 0 {
			return nil
		}
		n := (start + i) % Partitions
		if f.parts[n] != nil {
			continue
		}
		tctx, cancel := f.timeout(ctx)
		ok, err := f.rdb.SetNX(tctx, f.ownerKey(n), f.id, f.opt.Lease).Result()
		if err != nil {
			cancel()
			return fmt.Errorf("partition: claiming %d: %w", n, err)
		}
		if !ok {
			cancel()
			continue
		}
		cursor, err := f.rdb.Get(tctx, f.cursorKey(n)).Result()
		cancel()
		switch {
		case errors.Is(err, redis.Nil):
			cursor = "0-0" // never owned: from the start of the stream
		case err != nil:
			// Give it back rather than re-read a whole stream.
			f.delLease(ctx, n, "")
			return fmt.Errorf("partition: cursor of %d: %w", n, err)
		}
		// Profiles of these keys held here (step-up views, an earlier
		// ownership) may be older than what the last owner stored.
		f.det.Forget(func(k string) bool { return Of(k) == n })
		f.parts[n] = &part{cursor: cursor}
		f.owned.Or(1 << uint(n))
		want--
		f.log.Debug("partition: claimed", "partition", n, "cursor", cursor)
	}
	return nil
}

// releaseSome hands over k partitions.
func (f *Feed) releaseSome(ctx context.Context, k int) {
	for n := range f.parts {
		if k == 0 {
			return
		}
		f.handOver(ctx, n)
		k--
	}
}

// handOver stops reading partition n, flushes its keys, and releases the
// lease together with the cursor, so the next owner starts where this one
// stopped and finds what it learned in the store.
func (f *Feed) handOver(ctx context.Context, n int) {
	pt := f.parts[n]
	f.owned.And(^uint64(1 << uint(n)))
	delete(f.parts, n)
	cursor := pt.cursor
	if err := f.det.FlushKeys(ctx, func(k string) bool { return Of(k) == n }); err != nil {
		// The next owner would miss what was not saved; let it re-read
		// from the last good cursor instead.
		f.log.Error("partition: flushing before handover", "partition", n, "err", err)
		cursor = ""
	}
	f.delLease(ctx, n, cursor)
	f.det.Forget(func(k string) bool { return Of(k) == n })
}

// drop forgets a partition whose lease was lost: another instance may
// already read it, so its cursor is not ours to write.
func (f *Feed) drop(ctx context.Context, n int) {
	f.owned.And(^uint64(1 << uint(n)))
	delete(f.parts, n)
	if err := f.det.FlushKeys(ctx, func(k string) bool { return Of(k) == n }); err != nil {
		f.log.Error("partition: flushing a lost partition", "partition", n, "err", err)
	}
	f.det.Forget(func(k string) bool { return Of(k) == n })
}

func (f *Feed) delLease(ctx context.Context, n int, cursor string) {
	tctx, cancel := f.timeout(ctx)
	defer cancel()
	if err := release.Run(tctx, f.rdb, []string{f.ownerKey(n), f.cursorKey(n)}, f.id, cursor).Err(); err != nil {
		f.log.Warn("partition: releasing lease (it expires by itself)", "partition", n, "err", err)
	}
}

// checkpoint flushes the detector and then writes the cursor of every
// partition held: after a crash the next owner re-reads only what came
// after the last checkpoint.
func (f *Feed) checkpoint(ctx context.Context) error {
	cursors := make(map[int]string, len(f.parts))
	for n, pt := range f.parts {
		cursors[n] = pt.cursor
	}
	if err := f.det.Flush(ctx); err != nil {
		return fmt.Errorf("partition: flush: %w", err)
	}
	if len(cursors) == 0 {
		return nil
	}
	tctx, cancel := f.timeout(ctx)
	defer cancel()
	_, err := f.rdb.Pipelined(tctx, func(p redis.Pipeliner) error {
		for n, c := range cursors {
			saveCursor.Eval(tctx, p, []string{f.ownerKey(n), f.cursorKey(n)}, f.id, c)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition: writing cursors: %w", err)
	}
	return nil
}

// leaveAll hands over every partition and leaves the members set: a
// clean shutdown moves work at once instead of after the lease.
func (f *Feed) leaveAll(ctx context.Context) {
	for n := range f.parts {
		f.handOver(ctx, n)
	}
	tctx, cancel := f.timeout(ctx)
	defer cancel()
	f.rdb.ZRem(tctx, f.membersKey(), f.id)
}
