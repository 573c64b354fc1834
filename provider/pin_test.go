package provider_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/pinuv"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

var protocols = []pinuv.Protocol{pinuv.One{}, pinuv.Two{}}

func cheapVault(t testing.TB, f *fixture) func(*provider.Config) {
	return func(c *provider.Config) {
		v, err := userverify.NewPINVault(c.Store, userverify.WithKDF(userverify.CheapKDF), userverify.WithLockoutDelays(0))
		if err != nil {
			t.Fatal(err)
		}
		c.PIN = v
	}
}

func TestPINLifecycle(t *testing.T) {
	for _, pr := range protocols {
		t.Run(fmt.Sprintf("protocol%d", pr.Version()), func(t *testing.T) {
			f := newFixture(t)
			f = newFixture(t, cheapVault(t, f))
			ctx := context.Background()
			if _, err := f.client.PINToken(ctx, pr, "1234", ctap.PermMakeCredential, rpID); !errors.Is(err, ctap.ErrPINNotSet) {
				t.Fatalf("token before setPIN: %v", err)
			}
			if err := f.client.SetPIN(ctx, pr, "123"); !errors.Is(err, ctap.ErrPINPolicyViolation) {
				t.Fatalf("short PIN: %v", err)
			}
			if err := f.client.SetPIN(ctx, pr, "1234"); err != nil {
				t.Fatal(err)
			}
			if err := f.client.SetPIN(ctx, pr, "5678"); !errors.Is(err, ctap.ErrNotAllowed) {
				t.Fatalf("second setPIN: %v", err)
			}
			info, _ := f.client.GetInfo(ctx)
			if !info.Options["clientPin"] {
				t.Fatal("GetInfo does not show the PIN as set")
			}
			if err := f.client.ChangePIN(ctx, pr, "1234", "98765"); err != nil {
				t.Fatal(err)
			}
			tok, err := f.client.PINToken(ctx, pr, "98765", ctap.PermMakeCredential|ctap.PermGetAssertion, rpID)
			if err != nil {
				t.Fatal(err)
			}
			calls := f.mock.Calls()
			if _, err := f.client.MakeCredential(ctx, mcRequest(), tok); err != nil {
				t.Fatal(err)
			}
			// A PIN token carries UV, not presence: the user is asked to confirm once.
			if f.mock.Calls() != calls+1 {
				t.Fatalf("asked %d times with a PIN token, want 1", f.mock.Calls()-calls)
			}
			req := mcRequest()
			req.RP.ID = "other.example"
			if _, err := f.client.MakeCredential(ctx, req, tok); !errors.Is(err, ctap.ErrPINAuthInvalid) {
				t.Fatalf("token bound to %s used for other.example: %v", rpID, err)
			}
		})
	}
}

// TestPINRetries drives wrong PINs to PIN_AUTH_BLOCKED and PIN_BLOCKED, and
// checks that the retries survive a new provider on the same store.
func TestPINRetries(t *testing.T) {
	pr := pinuv.Two{}
	ctx := context.Background()
	f := newFixture(t)
	f = newFixture(t, cheapVault(t, f))
	if err := f.client.SetPIN(ctx, pr, "1234"); err != nil {
		t.Fatal(err)
	}
	reopen := func() {
		cfg := provider.Config{Store: f.store, Sealer: f.sealer, Verifier: f.mock}
		cheapVault(t, f)(&cfg)
		p, err := provider.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		f.p, f.client = p, ctapclient.New(ctapclient.HandlerFunc(p.ServeCTAP))
	}
	// wrong PINs 1..8, with a restart (a power cycle) after each PIN_AUTH_BLOCKED.
	want := []ctap.Status{ctap.ErrPINInvalid, ctap.ErrPINInvalid, ctap.ErrPINAuthBlocked,
		ctap.ErrPINInvalid, ctap.ErrPINInvalid, ctap.ErrPINAuthBlocked,
		ctap.ErrPINInvalid, ctap.ErrPINBlocked}
	for i, w := range want {
		if _, err := f.client.PINToken(ctx, pr, "0000", ctap.PermGetAssertion, rpID); !errors.Is(err, w) {
			t.Fatalf("wrong PIN %d: %v, want %s", i+1, err, w.Name())
		}
		if w == ctap.ErrPINAuthBlocked {
			if _, err := f.client.PINToken(ctx, pr, "1234", ctap.PermGetAssertion, rpID); !errors.Is(err, ctap.ErrPINAuthBlocked) {
				t.Fatalf("right PIN while auth-blocked: %v", err)
			}
			reopen()
			if n, _ := f.client.PINRetries(ctx); n != 8-(i+1) {
				t.Fatalf("retries after restart = %d, want %d", n, 8-(i+1))
			}
		}
	}
	if _, err := f.client.PINToken(ctx, pr, "1234", ctap.PermGetAssertion, rpID); !errors.Is(err, ctap.ErrPINBlocked) {
		t.Fatalf("right PIN after 8 failures: %v, want PIN_BLOCKED", err)
	}
	if n, _ := f.client.PINRetries(ctx); n != 0 {
		t.Fatalf("retries = %d, want 0", n)
	}
}

func TestUVToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermMakeCredential, rpID)
	if err != nil {
		t.Fatal(err)
	}
	if f.mock.Calls() != 1 || f.mock.Requests()[0].Operation != userverify.OpMakeCredential {
		t.Fatalf("UV token asked %d times: %+v", f.mock.Calls(), f.mock.Requests())
	}
	resp, err := f.client.MakeCredential(ctx, mcRequest(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if f.mock.Calls() != 1 {
		t.Fatal("a UV token's presence was not used: the user was asked twice")
	}
	ad, _ := ctap.ParseAuthData(resp.AuthData)
	if !ad.Flags.Has(ctap.FlagUP | ctap.FlagUV) {
		t.Fatalf("flags %s, want UP|UV", ad.Flags)
	}
	if _, err := f.client.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh}, tok); !errors.Is(err, ctap.ErrPINAuthInvalid) {
		t.Fatalf("mc token used for ga: %v", err)
	}
	f.mock.Push(userverify.ErrDenied)
	if _, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermCredMgmt, ""); !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("denied UV token: %v", err)
	}
	if _, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermBioEnroll, ""); !errors.Is(err, ctap.ErrUnauthorizedPermission) {
		t.Fatalf("bio enroll permission: %v", err)
	}
}
