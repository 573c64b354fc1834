package keystore

import (
	"testing"

	"github.com/passkeyd/passkeyd/internal/testenv"
)

// startSWTPM starts a fresh swtpm on 127.0.0.1 for one test (skipping it
// when swtpm is not installed) and stops it at the end.
func startSWTPM(t testing.TB) *testenv.SWTPM { return testenv.StartSWTPM(t) }

// freePortPair finds a port P such that P and P+1 are free on 127.0.0.1.
func freePortPair(t testing.TB) int { return testenv.FreePortPair(t) }
