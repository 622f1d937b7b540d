// Command console measures what the security console asks of the server
// with many keys: the Keys page's list calls (first page, a deep page,
// search, owner and status filters) through the console's session proxy
// onto the admin API and the SQLite store, as the browser makes them.
//
//	go run ./bench/console            # 100,000 keys
//	go run ./bench/console -keys 10000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/console"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func main() {
	n := flag.Int("keys", 100_000, "keys in the store")
	runs := flag.Int("runs", 30, "calls per measurement")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "warden-bench-console")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	start := time.Now()
	var deep string
	for i := range *n {
		spec := keys.Spec{Name: fmt.Sprintf("app-%06d", i), Owner: fmt.Sprintf("team-%03d", i%500)}
		k, _, err := keys.Create(ctx, db, spec, time.Now())
		if err != nil {
			log.Fatal(err)
		}
		if i%50 == 0 && i > 0 {
			keys.SetStatus(ctx, db, k.ID, keys.StatusSuspended, "bench", "bench", time.Now())
		}
		if i == *n*9/10 {
			deep = k.ID
		}
	}
	fmt.Printf("created %d keys in %s\n", *n, time.Since(start).Round(time.Millisecond))

	token := "wadm_bench"
	api := (&admin.Server{Store: db, Token: token}).Handler()
	mux := http.NewServeMux()
	mux.Handle("/admin/", api)
	mux.Handle(console.Prefix, &console.Handler{Token: token, Admin: api})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := client.Post(srv.URL+"/console/session", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil || resp.StatusCode != 200 {
		log.Fatalf("sign-in: %v %v", err, resp)
	}
	resp.Body.Close()

	for _, c := range []struct{ name, query string }{
		{"first page (50)", "limit=51"},
		{"page at 90%", "limit=51&after=" + deep},
		{"search by name", "limit=51&q=app-0999"},
		{"search, no match", "limit=51&q=no-such-key"},
		{"owner filter", "limit=51&owner=team-042"},
		{"status=suspended", "limit=51&status=suspended"},
	} {
		var ds []time.Duration
		var got int
		for range *runs {
			t0 := time.Now()
			resp, err := client.Get(srv.URL + "/console/api/v1/keys?" + c.query)
			if err != nil {
				log.Fatal(err)
			}
			var list []json.RawMessage
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			ds = append(ds, time.Since(t0))
			got = len(list)
		}
		slices.Sort(ds)
		fmt.Printf("%-20s %3d rows  median %8s  p90 %8s\n", c.name, got, ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)*9/10].Round(10*time.Microsecond))
	}
}
