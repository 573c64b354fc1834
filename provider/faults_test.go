package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/provider"
)

// TestFaults injects each fault into one operation and checks that the
// relying party (go-webauthn) sees exactly that, and that the next operation
// is clean again.
func TestFaults(t *testing.T) {
	uvRequired := webauthn.WithUserVerification(protocol.VerificationRequired)
	for _, tc := range []struct {
		fault provider.Fault
		want  string // a fragment of the error the relying party or client reports
	}{
		{provider.Fault{Kind: provider.FaultStatus, Op: provider.FaultOpGet, Status: ctap.ErrOperationDenied}, "not_allowed"},
		{provider.Fault{Kind: provider.FaultCredmanError, Op: provider.FaultOpGet, CredmanCode: "rp_id_mismatch"}, "rp_id_mismatch"},
		{provider.Fault{Kind: provider.FaultBogusSignature, Op: provider.FaultOpGet}, "signature"},
		{provider.Fault{Kind: provider.FaultUVCleared, Op: provider.FaultOpGet}, "verif"},
		{provider.Fault{Kind: provider.FaultUPCleared, Op: provider.FaultOpGet}, "presence"},
		{provider.Fault{Kind: provider.FaultCounterStuck, Op: provider.FaultOpGet}, "clone warning"},
		{provider.Fault{Kind: provider.FaultCounterLowered, Op: provider.FaultOpAny}, "clone warning"},
		{provider.Fault{Kind: provider.FaultWrongRPIDHash, Op: provider.FaultOpGet}, "RP Hash"},
		{provider.Fault{Kind: provider.FaultVerificationTimeout, Op: provider.FaultOpGet}, "timeout"},
	} {
		t.Run(string(tc.fault.Kind), func(t *testing.T) {
			f := newFixture(t)
			rp := testrp.New(t, rpID, origin)
			u := testrp.NewUser("alice")
			if _, err := rp.Register(u, f.createClient(t)); err != nil {
				t.Fatal(err)
			}
			for range 2 { // counters 1, 2: a lowered counter has room to go down
				if _, err := rp.Login(u, f.getClient(t), uvRequired); err != nil {
					t.Fatal(err)
				}
			}
			tc.fault.Count = 1
			if _, err := f.p.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			_, err := rp.Login(u, f.getClient(t), uvRequired)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("faulty login: %v, want an error about %q", err, tc.want)
			}
			if len(f.p.Faults()) != 0 {
				t.Fatalf("fault not consumed: %+v", f.p.Faults())
			}
			if _, err := rp.Login(u, f.getClient(t), uvRequired); err != nil {
				t.Fatalf("the operation after the fault: %v", err)
			}
		})
	}
}

// TestCreateFaults: a refused registration and a registration with a bogus
// attestation signature, each followed by a clean one.
func TestCreateFaults(t *testing.T) {
	f := newFixture(t)
	rp := testrp.New(t, rpID, origin)
	u := testrp.NewUser("bob")
	direct := webauthn.WithConveyancePreference(protocol.PreferDirectAttestation)
	f.p.InjectFault(provider.Fault{Kind: provider.FaultStatus, Op: provider.FaultOpCreate, Count: 1, Status: ctap.ErrOperationDenied})
	if _, err := rp.Register(u, f.createClient(t), direct); !errors.Is(err, credman.ErrNotAllowed) {
		t.Fatalf("denied registration: %v", err)
	}
	f.p.InjectFault(provider.Fault{Kind: provider.FaultBogusSignature, Op: provider.FaultOpCreate, Count: 1})
	if _, err := rp.Register(u, f.createClient(t), direct); err == nil || !strings.Contains(err.Error(), "ignature") {
		t.Fatalf("registration with a bogus attestation signature: %v", err)
	}
	if _, err := rp.Register(u, f.createClient(t), direct); err != nil {
		t.Fatalf("registration after the faults: %v", err)
	}
}

func TestDelayFault(t *testing.T) {
	f := newFixture(t)
	f.p.InjectFault(provider.Fault{Kind: provider.FaultDelay, Op: provider.FaultOpCreate, Count: 1, Delay: 60 * time.Millisecond})
	start := time.Now()
	if _, err := f.p.MakeCredential(context.Background(), mcRequest()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 60*time.Millisecond {
		t.Fatal("the answer was not delayed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.p.InjectFault(provider.Fault{Kind: provider.FaultDelay, Op: provider.FaultOpCreate, Count: 1, Delay: time.Minute})
	cancel()
	if _, err := f.p.MakeCredential(ctx, mcRequest()); !errors.Is(err, ctap.ErrKeepaliveCancel) {
		t.Fatalf("cancelled delay: %v", err)
	}
}

func TestFaultValidation(t *testing.T) {
	f := newFixture(t)
	for _, bad := range []provider.Fault{
		{Kind: "nope", Op: provider.FaultOpGet, Count: 1},
		{Kind: provider.FaultBogusSignature, Op: "sometimes", Count: 1},
		{Kind: provider.FaultBogusSignature, Op: provider.FaultOpGet},
		{Kind: provider.FaultStatus, Op: provider.FaultOpGet, Count: 1},
		{Kind: provider.FaultDelay, Op: provider.FaultOpGet, Count: 1},
	} {
		if _, err := f.p.InjectFault(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	f.p.InjectFault(provider.Fault{Kind: provider.FaultUVCleared, Op: provider.FaultOpGet, Count: 3})
	f.p.ClearFaults()
	if len(f.p.Faults()) != 0 {
		t.Fatal("ClearFaults left faults")
	}
}

// TestWebDriverOperations: add a credential from a PKCS#8 key and sign in
// with it at go-webauthn, read it back with its key, change its properties,
// script the user's answer, remove it.
func TestWebDriverOperations(t *testing.T) {
	f := newFixture(t, func(c *provider.Config) { c.AllowExport = true })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	id := []byte("imported-credential-0001")
	u := testrp.NewUser("carol")
	err := f.p.AddCredential(provider.TestCredential{CredentialID: id, IsResidentCredential: true, RPID: rpID,
		PrivateKey: pkcs8, UserHandle: u.ID, SignCount: 41, UserName: "carol", BackupEligibility: true})
	if err != nil {
		t.Fatal(err)
	}
	cose, _ := ctap.COSEKeyFromECDSA(&key.PublicKey)
	u.Creds = []webauthn.Credential{{ID: id, PublicKey: ctap.MustMarshal(cose), Authenticator: webauthn.Authenticator{SignCount: 41},
		Flags: webauthn.CredentialFlags{BackupEligible: true}}}
	rp := testrp.New(t, rpID, origin)
	c, err := rp.Login(u, f.getClient(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Authenticator.SignCount != 42 {
		t.Fatalf("counter %d after 41", c.Authenticator.SignCount)
	}
	creds, err := f.p.TestCredentials(true)
	if err != nil || len(creds) != 1 || string(creds[0].PrivateKey) != string(pkcs8) {
		t.Fatalf("read back: %v, %d credentials", err, len(creds))
	}

	yes, no := true, false
	if err := f.p.SetCredentialProperties(id, provider.CredentialProperties{BackupState: &yes}); err != nil {
		t.Fatal(err)
	}
	low := uint32(3)
	if err := f.p.SetCredentialProperties(id, provider.CredentialProperties{SignCount: &low}); err == nil {
		t.Fatal("a counter went back")
	}
	c, err = rp.Login(u, f.getClient(t))
	if err != nil || !c.Flags.BackupEligible || !c.Flags.BackupState {
		t.Fatalf("after setting BS: %v", err)
	}
	// BE is fixed for a credential's life; a relying party must notice a change.
	if err := f.p.SetCredentialProperties(id, provider.CredentialProperties{BackupEligibility: &no, BackupState: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Login(u, f.getClient(t)); err == nil || !strings.Contains(err.Error(), "ackup") {
		t.Fatalf("BE changed, the relying party said: %v", err)
	}
	f.p.SetCredentialProperties(id, provider.CredentialProperties{BackupEligibility: &yes})

	f.p.SetUserVerified(false, 1)
	if _, err := rp.Login(u, f.getClient(t)); !errors.Is(err, credman.ErrNotAllowed) {
		t.Fatalf("scripted denial: %v", err)
	}
	if _, err := rp.Login(u, f.getClient(t)); err != nil {
		t.Fatalf("after the scripted denial: %v", err)
	}
	if f.mock.Calls() != 4 { // every login but the scripted one
		t.Fatalf("the scripted answer reached the verifier: %d calls", f.mock.Calls())
	}
	if err := f.p.RemoveCredential(id); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Login(u, f.getClient(t)); !errors.Is(err, credman.ErrNoCredentials) {
		t.Fatalf("login with a removed credential: %v", err)
	}
}

func TestExportRefused(t *testing.T) {
	f := newFixture(t) // AllowExport off
	if _, err := f.p.TestCredentials(true); !errors.Is(err, provider.ErrNoExport) {
		t.Fatalf("export without AllowExport: %v", err)
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	events, stop := f.p.Subscribe(64)
	defer stop()
	rp := testrp.New(t, rpID, origin)
	u := testrp.NewUser("dan")
	if _, err := rp.Register(u, f.createClient(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Login(u, f.getClient(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.p.RemoveAllCredentials(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(events) > 0 {
		e := <-events
		got = append(got, string(e.Type)+":"+e.Outcome)
	}
	want := "verification:verified credential-added: verification:verified credential-asserted: credential-deleted:"
	if strings.Join(got, " ") != want {
		t.Fatalf("events\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}
