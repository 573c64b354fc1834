package testcontrols_test

import (
	"testing"

	"github.com/passkeyd/passkeyd/provider"
)

// Cloned-authenticator detection by counter: a counter that does not go up
// is the sign of a cloned authenticator (WebAuthn §6.1.1). go-webauthn
// accepts the signature, sets CloneWarning and keeps its counter; what the
// relying party does then (lock the account, ask for another factor) is
// what this test is for.
func TestClonedAuthenticator(t *testing.T) {
	for _, kind := range []provider.FaultKind{provider.FaultCounterStuck, provider.FaultCounterLowered} {
		t.Run(string(kind), func(t *testing.T) {
			p, _ := newProvider(t, provider.Config{})
			rp := newRelyingParty(t, p)
			bob := newUser("bob")
			if _, err := rp.register(bob); err != nil {
				t.Fatal(err)
			}
			for range 2 { // counters 1 and 2
				if _, err := rp.signIn(bob); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.InjectFault(provider.Fault{Kind: kind, Op: provider.FaultOpGet, Count: 1}); err != nil {
				t.Fatal(err)
			}
			cred, err := rp.signIn(bob)
			if err != nil || !cred.Authenticator.CloneWarning || cred.Authenticator.SignCount != 2 {
				t.Fatalf("%v, clone warning %v, counter %d", err, cred.Authenticator.CloneWarning, cred.Authenticator.SignCount)
			}
		})
	}
}
