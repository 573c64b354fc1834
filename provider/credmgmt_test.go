package provider_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/internal/ctapclient"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
	"github.com/passkeyd/passkeyd/userverify"
)

// TestCredentialManagement walks all seven subcommands.
func TestCredentialManagement(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := map[string][]byte{}
	for _, rp := range []string{"a.example", "b.example", "b.example"} {
		req := mcRequest()
		req.RP = &ctap.RPEntity{ID: rp, Name: "RP " + rp}
		req.User = &ctap.UserEntity{ID: []byte("u-" + rp + string(rune('0'+len(ids)))), Name: "n" + rp}
		resp, err := f.client.MakeCredential(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		ad, _ := ctap.ParseAuthData(resp.AuthData)
		ids[rp] = ad.Attested.CredentialID
	}
	// A non-discoverable credential is not enumerated.
	nd := mcRequest()
	nd.Options = map[string]bool{"rk": false}
	if _, err := f.client.MakeCredential(ctx, nd, nil); err != nil {
		t.Fatal(err)
	}

	if _, _, err := f.client.Metadata(ctx, nil); !errors.Is(err, ctap.ErrPUATRequired) {
		t.Fatalf("metadata without token: %v", err)
	}
	tok, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermCredMgmt, "")
	if err != nil {
		t.Fatal(err)
	}
	existing, remaining, err := f.client.Metadata(ctx, tok)
	if err != nil || existing != 3 || remaining <= 0 {
		t.Fatalf("metadata = %d, %d, %v", existing, remaining, err)
	}
	rps, err := f.client.RPs(ctx, tok)
	if err != nil || len(rps) != 2 || rps[0].RP.ID != "a.example" || rps[1].RP.Name != "RP b.example" {
		t.Fatalf("RPs = %v, %v", rps, err)
	}
	h := sha256.Sum256([]byte("b.example"))
	if !bytes.Equal(rps[1].RPIDHash, h[:]) {
		t.Fatal("rpIDHash is wrong")
	}
	creds, err := f.client.Credentials(ctx, tok, h[:])
	if err != nil || len(creds) != 2 || creds[0].PublicKey == nil || creds[0].PublicKey.Crv != 1 {
		t.Fatalf("credentials = %v, %v", creds, err)
	}
	id := creds[0].CredentialID.ID
	user := *creds[0].User
	user.Name, user.DisplayName = "renamed", "Renamed User"
	if err := f.client.UpdateUser(ctx, tok, id, user); err != nil {
		t.Fatal(err)
	}
	bad := user
	bad.ID = []byte("someone else")
	if err := f.client.UpdateUser(ctx, tok, id, bad); !errors.Is(err, ctap.ErrInvalidParameter) {
		t.Fatalf("update with another user.id: %v", err)
	}
	if err := f.client.DeleteCredential(ctx, tok, ids["a.example"]); err != nil {
		t.Fatal(err)
	}
	if err := f.client.DeleteCredential(ctx, tok, ids["a.example"]); !errors.Is(err, ctap.ErrNoCredentials) {
		t.Fatalf("second delete: %v", err)
	}
	ga := &ctap.GetAssertionRequest{RPID: "a.example", ClientDataHash: cdh}
	if _, err := f.client.GetAssertion(ctx, ga, nil); !errors.Is(err, ctap.ErrNoCredentials) {
		t.Fatalf("sign-in with a deleted credential: %v", err)
	}
	after, err := f.client.Credentials(ctx, tok, h[:])
	if err != nil || len(after) != 2 || (after[0].User.Name != "renamed" && after[1].User.Name != "renamed") {
		t.Fatalf("after rename: %v, %v", after, err)
	}

	// A token bound to one RP cannot enumerate everything.
	bound, err := f.client.UVToken(ctx, pinuv.One{}, ctap.PermCredMgmt, "b.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.client.Metadata(ctx, bound); !errors.Is(err, ctap.ErrUnauthorizedPermission) {
		t.Fatalf("metadata with an RP-bound token: %v", err)
	}
	if _, err := f.client.Credentials(ctx, bound, h[:]); err != nil {
		t.Fatalf("enumerate own RP with bound token: %v", err)
	}
}

// TestCredMgmtDeniedDeletesNothing: the token comes only through the user.
func TestCredMgmtDeniedDeletesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.client.MakeCredential(ctx, mcRequest(), nil); err != nil {
		t.Fatal(err)
	}
	f.mock.Push(userverify.ErrDenied)
	if _, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermCredMgmt, ""); !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatal(err)
	}
	if f.count(t) != 1 {
		t.Fatal("credential gone")
	}
}

func TestLargeBlobs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	initial, err := f.client.ReadLargeBlobs(ctx)
	if err != nil || len(initial) != 17 || initial[0] != 0x80 {
		t.Fatalf("initial array %x, %v", initial, err)
	}
	tok, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermLargeBlobWrite, "")
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{0x81, 0x59, 0x08, 0x00}, bytes.Repeat([]byte{7}, 2048)...)
	sum := sha256.Sum256(body)
	arr := append(body, sum[:16]...)
	if err := f.client.WriteLargeBlobs(ctx, tok, arr); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.ReadLargeBlobs(ctx)
	if err != nil || !bytes.Equal(got, arr) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	arr[len(arr)-1] ^= 1
	if err := f.client.WriteLargeBlobs(ctx, tok, arr); !errors.Is(err, ctap.ErrIntegrityFailure) {
		t.Fatalf("corrupt array: %v", err)
	}
	forged := &ctapclient.Token{Protocol: pinuv.Two{}, Token: make([]byte, 32)}
	if err := f.client.WriteLargeBlobs(ctx, forged, arr); !errors.Is(err, ctap.ErrPINAuthInvalid) {
		t.Fatalf("write with a forged token: %v", err)
	}
}

func TestConfig(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, err := f.client.UVToken(ctx, pinuv.Two{}, ctap.PermConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client.Config(ctx, tok, ctap.CfgToggleAlwaysUV, nil); err != nil {
		t.Fatal(err)
	}
	info, _ := f.client.GetInfo(ctx)
	if !info.Options["alwaysUv"] {
		t.Fatal("alwaysUv not shown after toggle")
	}
	// Under alwaysUv, a plain assertion request is verified.
	if _, err := f.client.MakeCredential(ctx, mcRequest(), nil); err != nil {
		t.Fatal(err)
	}
	a, err := f.client.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ad, _ := ctap.ParseAuthData(a.AuthData); !ad.Flags.Has(ctap.FlagUV) {
		t.Fatal("alwaysUv assertion without UV")
	}
	if err := f.client.Config(ctx, tok, ctap.CfgSetMinPINLength, &ctap.SetMinPINLengthParams{NewMinPINLength: 6, MinPINLengthRPIDs: []string{rpID}}); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Config(ctx, tok, ctap.CfgSetMinPINLength, &ctap.SetMinPINLengthParams{NewMinPINLength: 5}); !errors.Is(err, ctap.ErrPINPolicyViolation) {
		t.Fatalf("shrinking min PIN length: %v", err)
	}
	if err := f.client.SetPIN(ctx, pinuv.Two{}, "12345"); !errors.Is(err, ctap.ErrPINPolicyViolation) {
		t.Fatalf("5-digit PIN under min 6: %v", err)
	}
	req := mcRequest()
	req.Extensions = map[string]cbor.RawMessage{"minPinLength": ctap.MustMarshal(true)}
	resp, err := f.client.MakeCredential(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	ad, _ := ctap.ParseAuthData(resp.AuthData)
	var ext map[string]any
	ctap.Unmarshal(ad.Extensions, &ext)
	if fmt.Sprint(ext["minPinLength"]) != "6" {
		t.Fatalf("minPinLength output %v", ext)
	}
}

func TestReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.client.MakeCredential(ctx, mcRequest(), nil); err != nil {
		t.Fatal(err)
	}
	f.mock.Push(userverify.ErrDenied)
	if err := f.client.Reset(ctx); !errors.Is(err, ctap.ErrOperationDenied) || f.count(t) != 1 {
		t.Fatalf("denied reset: %v, %d credentials", err, f.count(t))
	}
	if err := f.client.Reset(ctx); err != nil || f.count(t) != 0 {
		t.Fatalf("reset: %v, %d credentials", err, f.count(t))
	}
}
