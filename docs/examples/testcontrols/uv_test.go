package testcontrols_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// UV required: a relying party that asks for userVerification "required"
// must refuse both a declined verification and an assertion whose UV flag
// is clear (uv-cleared: the signature is valid, the flag is 0).
func TestUVRequired(t *testing.T) {
	p, mock := newProvider(t, provider.Config{})
	rp := newRelyingParty(t, p)
	dan := newUser("dan")
	required := webauthn.WithUserVerification(protocol.VerificationRequired)
	if _, err := rp.register(dan); err != nil {
		t.Fatal(err)
	}

	mock.Push(userverify.ErrDenied) // the user declines (p.SetUserVerified(false, 1) does the same)
	if _, err := rp.signIn(dan, required); !errors.Is(err, credman.ErrNotAllowed) {
		t.Fatalf("declined: %v, want not_allowed", err)
	}

	if _, err := p.InjectFault(provider.Fault{Kind: provider.FaultUVCleared, Op: provider.FaultOpGet, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.signIn(dan, required); err == nil || !strings.Contains(err.Error(), "User verification required") {
		t.Fatalf("an assertion without UV: %v", err)
	}

	if _, err := rp.signIn(dan, required); err != nil {
		t.Fatalf("verified again: %v", err)
	}
}
