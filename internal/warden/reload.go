package warden

import (
	"fmt"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
)

// Reload applies what can change while Warden runs (providers, models,
// deployment pools, prices, guard policies) from c to the gateway; package
// reload decides what c is and reports the settings that need a restart.
// Requests already in flight finish on the configuration they started with.
func (w *Warden) Reload(c *config.Config) error {
	var policies func(*keys.Key) *guard.Policy // nil: the default policy (a disabled guard stays off until a restart)
	if !c.Guard.Disabled {
		var err error
		if policies, err = guardPolicies(c.Guard); err != nil {
			return fmt.Errorf("warden: reload: %w", err)
		}
	}
	return w.Gateway.Reload(c, policies)
}
