package limit_test

import (
	"testing"

	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/limit/limittest"
)

func TestGate(t *testing.T) {
	var l limit.Local
	limittest.Gate(t, &l, &l, &l)
}
