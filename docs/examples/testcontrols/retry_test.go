package testcontrols_test

import (
	"errors"
	"testing"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/provider"
)

// Retry after failure: the provider refuses one registration with
// OPERATION_DENIED (a browser's NotAllowedError); the page offers "Try
// again", and the second attempt succeeds.
func TestRetryAfterFailure(t *testing.T) {
	p, _ := newProvider(t, provider.Config{})
	rp := newRelyingParty(t, p)
	alice := newUser("alice")

	_, err := p.InjectFault(provider.Fault{Kind: provider.FaultStatus, Op: provider.FaultOpCreate, Count: 1,
		Status: ctap.ErrOperationDenied})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.register(alice); !errors.Is(err, credman.ErrNotAllowed) {
		t.Fatalf("first attempt: %v, want not_allowed", err)
	}
	if len(p.Faults()) != 0 {
		t.Fatal("the fault was not used up")
	}
	if _, err := rp.register(alice); err != nil {
		t.Fatalf("try again: %v", err)
	}
}
