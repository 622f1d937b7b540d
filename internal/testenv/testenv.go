// Package testenv connects tests to the real PostgreSQL and Redis servers
// that backend tests run against, with one rule for all of them: when a
// server cannot be reached the test is skipped, except in CI (env CI=true),
// where a missing server is a failure, so a broken CI set-up can never pass
// by skipping everything.
//
// Servers are found through environment variables:
//
//	WARDEN_TEST_POSTGRES  default postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	WARDEN_TEST_REDIS     default redis://127.0.0.1:6379/0
//
// Each test gets its own namespace, so tests run in parallel and repeatedly
// on the same servers: a fresh PostgreSQL schema (dropped at the end), and a
// fresh Redis key prefix (its keys deleted at the end).
//
// It also holds what several packages' tests need of their surroundings: a
// TCP proxy that takes a server away and gives it back (Proxy), an HTTP
// server that keeps what it is sent (Recorder), a certificate authority
// for TLS tests (CA) and the default logger's output (CaptureLogs).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Defaults used when the environment variables are unset.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedis    = "redis://127.0.0.1:6379/0"
)

// dialTimeout bounds how long a test waits for a server that is not there.
const dialTimeout = 3 * time.Second

// unavailable skips the test, or fails it in CI.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s unreachable (CI=true, so this fails instead of skipping): %v", what, err)
	}
	t.Skipf("testenv: %s unreachable, skipping (set CI=true to fail instead): %v", what, err)
}

// PostgresURL returns the DSN of the test server, after checking that it
// answers. It does not create a schema: see PostgresSchema.
func PostgresURL(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	if err := conn.Ping(ctx); err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	return dsn
}

// PostgresSchema creates an empty schema for this test and returns a DSN
// whose search_path points at it, so everything the code under test creates
// lands there. The schema is dropped when the test ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := PostgresURL(t)
	schema := "t_" + randomHex(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testenv: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testenv: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("testenv: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testenv: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, dsn, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("testenv: WARDEN_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL returns the URL of the test server, after checking that it answers.
func RedisURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("WARDEN_TEST_REDIS")
	if raw == "" {
		raw = DefaultRedis
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("testenv: WARDEN_TEST_REDIS: %v", err)
	}
	opt.DialTimeout = dialTimeout
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "Redis", err)
	}
	return raw
}

// Redis returns a client of the test server and a key prefix unique to this
// test ("test:<random>:"). Keys under the prefix are deleted and the client is
// closed when the test ends. Code under test must put all its keys under the
// prefix.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c := redis.NewClient(opt)
	prefix := "test:" + randomHex(t, 8) + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var stale []string
		for iter.Next(ctx) {
			stale = append(stale, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("testenv: clean up %s*: %v", prefix, err)
			return
		}
		if len(stale) > 0 {
			if err := c.Del(ctx, stale...).Err(); err != nil {
				t.Errorf("testenv: clean up %s*: %v", prefix, err)
			}
		}
	})
	return c, prefix
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(hex.EncodeToString(b))
}
