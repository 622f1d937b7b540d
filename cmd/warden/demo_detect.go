package main

import (
	"context"
	"fmt"
	"os"

	"github.com/wardenhq/warden/internal/simulate"
)

// demoDetectScene replays a simulated day of a customer app, then the
// attack of the threat model, through the detector, and tells what it did.
func demoDetectScene(ctx context.Context, env *demoEnv) error {
	dir, err := os.MkdirTemp("", "warden-demo-detect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(env.out, "A customer app uses its key all working day. Then the key leaks: a key checker probes it,")
	fmt.Fprintln(env.out, "and a reverse proxy starts reselling it. Warden replays that simulated traffic through its detector:")
	fmt.Fprintln(env.out)
	story, err := simulate.DemoAttack(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprint(env.out, story)
	return nil
}
