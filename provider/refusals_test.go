package provider_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/userverify"
)

var cdh = bytes.Repeat([]byte{0xcd}, 32)

func mcRequest() *ctap.MakeCredentialRequest {
	return &ctap.MakeCredentialRequest{ClientDataHash: cdh, RP: &ctap.RPEntity{ID: rpID},
		User:             &ctap.UserEntity{ID: []byte("user-1"), Name: "alice"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: "public-key", Alg: -7}},
		Options:          map[string]bool{"rk": true, "uv": true}}
}

// TestMakeCredentialRefusals pins the status of each bad or missing parameter.
func TestMakeCredentialRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ctap.MakeCredentialRequest)
		want   ctap.Status
	}{
		{"no clientDataHash", func(r *ctap.MakeCredentialRequest) { r.ClientDataHash = nil }, ctap.ErrMissingParameter},
		{"short clientDataHash", func(r *ctap.MakeCredentialRequest) { r.ClientDataHash = cdh[:31] }, ctap.ErrInvalidLength},
		{"no rp", func(r *ctap.MakeCredentialRequest) { r.RP = nil }, ctap.ErrMissingParameter},
		{"no rp.id", func(r *ctap.MakeCredentialRequest) { r.RP.ID = "" }, ctap.ErrMissingParameter},
		{"no user", func(r *ctap.MakeCredentialRequest) { r.User = nil }, ctap.ErrMissingParameter},
		{"no user.id", func(r *ctap.MakeCredentialRequest) { r.User.ID = nil }, ctap.ErrMissingParameter},
		{"long user.id", func(r *ctap.MakeCredentialRequest) { r.User.ID = make([]byte, 65) }, ctap.ErrInvalidLength},
		{"no params", func(r *ctap.MakeCredentialRequest) { r.PubKeyCredParams = nil }, ctap.ErrMissingParameter},
		{"RS256 only", func(r *ctap.MakeCredentialRequest) {
			r.PubKeyCredParams = []ctap.CredentialParameter{{Type: "public-key", Alg: -257}}
		}, ctap.ErrUnsupportedAlgorithm},
		{"up=false", func(r *ctap.MakeCredentialRequest) { r.Options["up"] = false }, ctap.ErrInvalidOption},
		{"param without protocol", func(r *ctap.MakeCredentialRequest) { r.PinUvAuthParam = make([]byte, 16) }, ctap.ErrMissingParameter},
		{"unknown protocol", func(r *ctap.MakeCredentialRequest) {
			r.PinUvAuthParam, r.PinUvAuthProtocol = make([]byte, 16), 7
		}, ctap.ErrInvalidParameter},
		{"bad token", func(r *ctap.MakeCredentialRequest) {
			r.PinUvAuthParam, r.PinUvAuthProtocol = make([]byte, 32), 2
		}, ctap.ErrPINAuthInvalid},
		{"credProtect 4", func(r *ctap.MakeCredentialRequest) {
			r.Extensions = map[string]cbor.RawMessage{"credProtect": {0x04}}
		}, ctap.ErrInvalidParameter},
		{"credProtect text", func(r *ctap.MakeCredentialRequest) {
			r.Extensions = map[string]cbor.RawMessage{"credProtect": {0x61, 0x61}}
		}, ctap.ErrCBORUnexpectedType},
		{"largeBlobKey without rk", func(r *ctap.MakeCredentialRequest) {
			r.Options["rk"] = false
			r.Extensions = map[string]cbor.RawMessage{"largeBlobKey": {0xf5}}
		}, ctap.ErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			req := mcRequest()
			tc.mutate(req)
			_, err := f.client.MakeCredential(context.Background(), req, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want.Name())
			}
			if f.count(t) != 0 {
				t.Fatal("a refused MakeCredential left a credential behind")
			}
		})
	}
}

// TestProbe: the zero-length pinUvAuthParam browsers send to make the user
// pick an authenticator asks the user, then answers PIN_NOT_SET or PIN_INVALID.
func TestProbe(t *testing.T) {
	f := newFixture(t)
	msg := func(cmd ctap.Command) []byte {
		m := map[int]any{1: cdh, 2: map[string]string{"id": rpID}, 3: map[string][]byte{"id": {1}},
			4: []map[string]any{{"type": "public-key", "alg": -7}}, 8: []byte{}, 9: 1}
		if cmd == ctap.CmdGetAssertion {
			m = map[int]any{1: rpID, 2: cdh, 6: []byte{}, 7: 1}
		}
		return append([]byte{byte(cmd)}, ctap.MustMarshal(m)...)
	}
	for _, cmd := range []ctap.Command{ctap.CmdMakeCredential, ctap.CmdGetAssertion} {
		if r := f.p.ServeCTAP(context.Background(), msg(cmd), nil); ctap.Status(r[0]) != ctap.ErrPINNotSet {
			t.Fatalf("probe %x without PIN: %x", cmd, r)
		}
	}
	if f.mock.Calls() != 2 || f.mock.Requests()[0].Operation != userverify.OpSelection {
		t.Fatalf("probe asked %d times: %+v", f.mock.Calls(), f.mock.Requests())
	}
	f.mock.Push(userverify.ErrDenied)
	if r := f.p.ServeCTAP(context.Background(), msg(ctap.CmdMakeCredential), nil); ctap.Status(r[0]) != ctap.ErrOperationDenied {
		t.Fatalf("denied probe: %x", r)
	}
	if f.count(t) != 0 {
		t.Fatal("a probe created a credential")
	}
}

// TestVerifierOutcomes pins the CTAP mapping of each user-verification outcome
// and that a refused registration leaves no key and no record.
func TestVerifierOutcomes(t *testing.T) {
	for _, tc := range []struct {
		outcome error
		want    ctap.Status
	}{
		{userverify.ErrDenied, ctap.ErrOperationDenied},
		{userverify.ErrTimeout, ctap.ErrUserActionTimeout},
		{userverify.ErrCancelled, ctap.ErrKeepaliveCancel},
		{userverify.ErrLockedOut, ctap.ErrUVBlocked},
		{userverify.ErrUnavailable, ctap.ErrOperationDenied},
		{errors.New("hook crashed"), ctap.ErrOther},
	} {
		t.Run(tc.want.Name(), func(t *testing.T) {
			f := newFixture(t)
			f.mock.Push(tc.outcome)
			if _, err := f.client.MakeCredential(context.Background(), mcRequest(), nil); !errors.Is(err, tc.want) {
				t.Fatalf("MakeCredential: %v, want %s", err, tc.want.Name())
			}
			if f.count(t) != 0 {
				t.Fatalf("refused registration left %d records", f.count(t))
			}
			if _, err := f.client.MakeCredential(context.Background(), mcRequest(), nil); err != nil {
				t.Fatal(err)
			}
			f.mock.Push(tc.outcome)
			ga := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"uv": true}}
			if _, err := f.client.GetAssertion(context.Background(), ga, nil); !errors.Is(err, tc.want) {
				t.Fatalf("GetAssertion: %v, want %s", err, tc.want.Name())
			}
		})
	}
}

func TestGetAssertionRefusals(t *testing.T) {
	f := newFixture(t)
	if _, err := f.client.MakeCredential(context.Background(), mcRequest(), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  ctap.GetAssertionRequest
		want ctap.Status
	}{
		{"no rpId", ctap.GetAssertionRequest{ClientDataHash: cdh}, ctap.ErrMissingParameter},
		{"no clientDataHash", ctap.GetAssertionRequest{RPID: rpID}, ctap.ErrMissingParameter},
		{"rk option", ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"rk": true}}, ctap.ErrUnsupportedOption},
		{"other rp", ctap.GetAssertionRequest{RPID: "other.example", ClientDataHash: cdh}, ctap.ErrNoCredentials},
		{"unknown id", ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh,
			AllowList: []ctap.CredentialDescriptor{{Type: "public-key", ID: []byte("nope")}}}, ctap.ErrNoCredentials},
		{"next without get", ctap.GetAssertionRequest{}, ctap.ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.name == "next without get" {
				_, err = f.client.GetNextAssertion(context.Background())
			} else {
				_, err = f.client.GetAssertion(context.Background(), &tc.req, nil)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want.Name())
			}
		})
	}
}

// TestMalformedCBOR: the strict decoder's refusals reach the wire as statuses.
func TestMalformedCBOR(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		msg  []byte
		want ctap.Status
	}{
		{"empty", nil, ctap.ErrInvalidLength},
		{"unknown command", []byte{0x55}, ctap.ErrInvalidCommand},
		{"no params", []byte{0x01}, ctap.ErrMissingParameter},
		{"truncated", []byte{0x01, 0xa1, 0x01}, ctap.ErrInvalidCBOR},
		{"trailing bytes", []byte{0x01, 0xa0, 0x00}, ctap.ErrInvalidCBOR},
		{"duplicate key", []byte{0x02, 0xa2, 0x01, 0x61, 0x61, 0x01, 0x61, 0x61}, ctap.ErrInvalidCBOR},
		{"indefinite map", []byte{0x02, 0xbf, 0x01, 0x61, 0x61, 0xff}, ctap.ErrInvalidCBOR},
		{"tag", []byte{0x02, 0xc1, 0xa0}, ctap.ErrInvalidCBOR},
		{"array not map", []byte{0x02, 0x80}, ctap.ErrCBORUnexpectedType},
		{"too deep", []byte{0x02, 0xa1, 0x04, 0xa1, 0x61, 0x61, 0x81, 0x81, 0x81, 0x00}, ctap.ErrInvalidCBOR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := f.p.ServeCTAP(context.Background(), tc.msg, nil)
			if len(reply) != 1 || ctap.Status(reply[0]) != tc.want {
				t.Fatalf("reply %x, want status %s", reply, tc.want.Name())
			}
		})
	}
}

// TestDisabledProvider: GetInfo answers, credential operations are refused
// without asking the user.
func TestDisabledProvider(t *testing.T) {
	f := newFixture(t)
	if err := f.p.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.GetInfo(context.Background()); err != nil {
		t.Fatalf("GetInfo while disabled: %v", err)
	}
	if _, err := f.client.MakeCredential(context.Background(), mcRequest(), nil); !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("MakeCredential while disabled: %v", err)
	}
	_, err := f.p.MakeCredential(context.Background(), mcRequest())
	if !errors.Is(err, ctap.ErrOperationDenied) || err.Error() == ctap.ErrOperationDenied.Error() {
		t.Fatalf("the refusal should say why: %v", err)
	}
	ga := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh}
	if _, err := f.client.GetAssertion(context.Background(), ga, nil); !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("GetAssertion while disabled: %v", err)
	}
	if f.mock.Calls() != 0 {
		t.Fatalf("a disabled provider asked the user %d times", f.mock.Calls())
	}
	if err := f.p.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.MakeCredential(context.Background(), mcRequest(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestExcludeList: CREDENTIAL_EXCLUDED comes after the user was asked, and a
// denial then is OPERATION_DENIED.
func TestExcludeList(t *testing.T) {
	f := newFixture(t)
	resp, err := f.client.MakeCredential(context.Background(), mcRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ad, _ := ctap.ParseAuthData(resp.AuthData)
	req := mcRequest()
	req.ExcludeList = []ctap.CredentialDescriptor{{Type: "public-key", ID: ad.Attested.CredentialID}}
	before := f.mock.Calls()
	if _, err := f.client.MakeCredential(context.Background(), req, nil); !errors.Is(err, ctap.ErrCredentialExcluded) {
		t.Fatalf("got %v, want CREDENTIAL_EXCLUDED", err)
	}
	if f.mock.Calls() != before+1 {
		t.Fatal("CREDENTIAL_EXCLUDED was revealed without asking the user")
	}
	f.mock.Push(userverify.ErrDenied)
	if _, err := f.client.MakeCredential(context.Background(), req, nil); !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("denied: got %v", err)
	}
	if f.count(t) != 1 {
		t.Fatalf("%d credentials, want 1", f.count(t))
	}
}

// TestAccountSelection: several discoverable credentials come newest first
// with numberOfCredentials, the user entity and GetNextAssertion.
func TestAccountSelection(t *testing.T) {
	f := newFixture(t)
	names := []string{"ann", "ben", "cat"}
	for _, n := range names {
		req := mcRequest()
		req.User = &ctap.UserEntity{ID: []byte("id-" + n), Name: n, DisplayName: "User " + n}
		if _, err := f.client.MakeCredential(context.Background(), req, nil); err != nil {
			t.Fatal(err)
		}
	}
	ga := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"uv": true}}
	first, err := f.client.GetAssertion(context.Background(), ga, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.NumberOfCredentials != 3 {
		t.Fatalf("numberOfCredentials = %d, want 3", first.NumberOfCredentials)
	}
	got := []string{first.User.Name}
	for range 2 {
		next, err := f.client.GetNextAssertion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next.NumberOfCredentials != 0 || next.User == nil || next.User.DisplayName == "" {
			t.Fatalf("next assertion: %+v", next)
		}
		got = append(got, next.User.Name)
	}
	if got[0] != "cat" || got[1] != "ben" || got[2] != "ann" {
		t.Fatalf("order %v, want newest first", got)
	}
	if _, err := f.client.GetNextAssertion(context.Background()); !errors.Is(err, ctap.ErrNotAllowed) {
		t.Fatalf("fourth: %v", err)
	}
	// Without UV, no name or displayName is revealed.
	ga.Options = map[string]bool{}
	plain, err := f.client.GetAssertion(context.Background(), ga, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.User.Name != "" || plain.User.DisplayName != "" || plain.User.ID == nil {
		t.Fatalf("user entity without UV: %+v", plain.User)
	}
}
