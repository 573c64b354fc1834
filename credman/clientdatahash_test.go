package credman_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
)

// A privileged caller (a browser on Android) supplies the clientDataHash of
// the clientDataJSON it built itself: the provider signs authData ‖ that
// hash, and the response carries no clientDataJSON.
func TestClientDataHash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	browserCDJ := []byte(`{"type":"webauthn.create","challenge":"Y2hhbGxlbmdlLWNoYWxsZW5nZS0wMQ","origin":"https://example.com","crossOrigin":false}`)
	regHash := sha256.Sum256(browserCDJ)
	reg, err := f.cm.Create(ctx, credman.CreateRequest{Origin: origin, RequestJSON: creationOptions(rpID, func(o map[string]any) {
		o["attestation"] = "direct"
	}), ClientDataHash: regHash[:]})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Response.ClientDataJSON != nil {
		t.Errorf("clientDataJSON = %s, want none", reg.Response.ClientDataJSON)
	}
	if js := string(mustJSON(reg)); strings.Contains(js, "clientDataJSON") {
		t.Errorf("registrationResponseJson names clientDataJSON: %s", js)
	}
	pub := publicKey(t, reg.Response.PublicKey)
	checkPackedSelf(t, reg.Response.AttestationObject, regHash[:], pub)

	getHash := sha256.Sum256([]byte(`{"type":"webauthn.get","challenge":"c2lnbi1pbi1jaGFsbGVuZ2UtMDE","origin":"https://example.com"}`))
	auth, err := f.cm.Get(ctx, credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID), ClientDataHash: getHash[:]})
	if err != nil {
		t.Fatal(err)
	}
	if auth.Response.ClientDataJSON != nil || strings.Contains(string(mustJSON(auth)), "clientDataJSON") {
		t.Errorf("authenticationResponseJson has clientDataJSON: %s", mustJSON(auth))
	}
	signed := sha256.Sum256(append(append([]byte{}, auth.Response.AuthenticatorData...), getHash[:]...))
	if !ecdsa.VerifyASN1(pub, signed[:], auth.Response.Signature) {
		t.Error("the assertion signature does not verify over authenticatorData ‖ the given hash")
	}
	checkRPIDHash(t, auth.Response.AuthenticatorData, rpID)

	// A hash that is not SHA-256 sized is refused before anyone is asked.
	asked := f.mock.Calls()
	_, err = f.cm.Get(ctx, credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID), ClientDataHash: getHash[:31]})
	wantCode(t, err, "invalid_request")
	if f.mock.Calls() != asked {
		t.Error("the user was asked for a malformed request")
	}
}

// Without a clientDataHash, the signature covers SHA-256 of the
// clientDataJSON returned.
func TestSignatureOverOwnClientData(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t, "alice")
	auth, err := f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID)})
	if err != nil {
		t.Fatal(err)
	}
	cdh := sha256.Sum256(auth.Response.ClientDataJSON)
	signed := sha256.Sum256(append(append([]byte{}, auth.Response.AuthenticatorData...), cdh[:]...))
	if !ecdsa.VerifyASN1(publicKey(t, reg.Response.PublicKey), signed[:], auth.Response.Signature) {
		t.Error("the signature does not verify over authenticatorData ‖ SHA-256(clientDataJSON)")
	}
	var cd map[string]any
	if err := json.Unmarshal(auth.Response.ClientDataJSON, &cd); err != nil || cd["type"] != "webauthn.get" ||
		cd["challenge"] != "c2lnbi1pbi1jaGFsbGVuZ2UtMDE" || cd["origin"] != origin || cd["crossOrigin"] != false {
		t.Errorf("clientDataJSON = %s", auth.Response.ClientDataJSON)
	}
	if string(auth.Response.UserHandle) != "id-alice" {
		t.Errorf("userHandle = %q, want id-alice", auth.Response.UserHandle)
	}
}

func publicKey(t *testing.T, spki []byte) *ecdsa.PublicKey {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatalf("response.publicKey: %v", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("response.publicKey is a %T, want ECDSA", k)
	}
	return pub
}

// checkPackedSelf verifies a packed self attestation (WebAuthn §8.2) over
// authData ‖ clientDataHash with the credential's own key.
func checkPackedSelf(t *testing.T, attObj, clientDataHash []byte, pub *ecdsa.PublicKey) {
	t.Helper()
	var obj struct {
		Fmt      string          `cbor:"fmt"`
		AttStmt  cbor.RawMessage `cbor:"attStmt"`
		AuthData []byte          `cbor:"authData"`
	}
	if err := ctap.Unmarshal(attObj, &obj); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Alg int    `cbor:"alg"`
		Sig []byte `cbor:"sig"`
	}
	if err := ctap.Unmarshal(obj.AttStmt, &st); err != nil {
		t.Fatal(err)
	}
	if obj.Fmt != "packed" || st.Alg != -7 {
		t.Fatalf("attestation %s alg %d, want packed self with ES256", obj.Fmt, st.Alg)
	}
	signed := sha256.Sum256(append(append([]byte{}, obj.AuthData...), clientDataHash...))
	if !ecdsa.VerifyASN1(pub, signed[:], st.Sig) {
		t.Error("the attestation signature does not verify over authData ‖ the given hash")
	}
}
