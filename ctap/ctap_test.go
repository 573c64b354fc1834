package ctap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func TestStatusIs(t *testing.T) {
	err := fmt.Errorf("while signing in: %w", Errorf(ErrNoCredentials, "no credential for %s", "example.com"))
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatal("errors.Is does not see the status through wrapping")
	}
	if errors.Is(err, ErrOperationDenied) {
		t.Fatal("errors.Is matches another status")
	}
	if StatusOf(err) != ErrNoCredentials || StatusOf(nil) != StatusOK || StatusOf(errors.New("x")) != ErrOther {
		t.Fatal("StatusOf maps wrongly")
	}
	if StatusOf(fmt.Errorf("w: %w", ErrPINBlocked)) != ErrPINBlocked {
		t.Fatal("a bare Status is not found")
	}
	if ErrKeepaliveCancel.Name() != "CTAP2_ERR_KEEPALIVE_CANCEL" || Status(0xE5).Name() != "CTAP_STATUS_0xE5" {
		t.Fatal("names")
	}
}

func testKey(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := COSEKeyFromECDSA(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, MustMarshal(c)
}

func TestAuthDataRoundTrip(t *testing.T) {
	_, cose := testKey(t)
	ext := MustMarshal(map[string]any{"credProtect": 2, "hmac-secret": true})
	for _, a := range []*AuthData{
		{Flags: FlagUP, Counter: 7},
		{Flags: FlagUP | FlagUV | FlagBE | FlagBS, Counter: 1 << 31,
			Attested: &AttestedCredential{AAGUID: [16]byte{1, 2}, CredentialID: bytes.Repeat([]byte{9}, 32), PublicKey: cose}},
		{Flags: FlagUP, Attested: &AttestedCredential{CredentialID: []byte{1}, PublicKey: cose}, Extensions: ext},
		{Flags: FlagUV, Extensions: ext},
	} {
		a.RPIDHash[0] = 0xab
		b := a.Marshal()
		got, err := ParseAuthData(b)
		if err != nil {
			t.Fatalf("%s: %v", a.Flags, err)
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("round trip changed the bytes")
		}
		if (got.Attested != nil) != got.Flags.Has(FlagAT) || (got.Extensions != nil) != got.Flags.Has(FlagED) {
			t.Fatalf("AT/ED flags %s do not match the contents", got.Flags)
		}
		if got.Counter != a.Counter {
			t.Fatalf("counter %d, want %d", got.Counter, a.Counter)
		}
	}
}

func TestParseAuthDataRefusals(t *testing.T) {
	_, cose := testKey(t)
	good := (&AuthData{Flags: FlagUP, Attested: &AttestedCredential{CredentialID: []byte{1, 2}, PublicKey: cose}}).Marshal()
	for name, b := range map[string][]byte{
		"short":             good[:36],
		"AT truncated":      good[:50],
		"key truncated":     good[:len(good)-1],
		"trailing":          append(append([]byte{}, good...), 0),
		"ED without data":   append(append([]byte{}, good[:32]...), byte(FlagED), 0, 0, 0, 0),
		"ID length too big": append(append(append([]byte{}, good[:37]...), make([]byte, 16)...), 0xff, 0xff),
	} {
		if _, err := ParseAuthData(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestCOSEKeyEncoding pins the encoding relying parties expect: kty, alg,
// crv, x, y in canonical order, 32-byte coordinates even with leading zeros.
func TestCOSEKeyEncoding(t *testing.T) {
	for range 64 {
		k, cose := testKey(t)
		var c COSEKey
		if err := Unmarshal(cose, &c); err != nil {
			t.Fatal(err)
		}
		if len(c.X) != 32 || len(c.Y) != 32 || c.Crv != 1 || c.Alg != -7 || c.Kty != 2 {
			t.Fatalf("COSE key %+v", c)
		}
		// a5 01 02 03 26 20 01 21 58 20 ...: map(5), 1:2, 3:-7, -1:1, -2:bstr(32)
		if !bytes.HasPrefix(cose, []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}) {
			t.Fatalf("not canonical: %s", hex.EncodeToString(cose[:12]))
		}
		pub, err := c.ECDSA()
		if err != nil || !pub.Equal(&k.PublicKey) {
			t.Fatalf("public key does not round trip: %v", err)
		}
	}
	bad := COSEKey{Kty: 2, Alg: -7, Crv: 1, X: make([]byte, 31), Y: make([]byte, 32)}
	if _, err := bad.ECDSA(); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("31-byte x: %v", err)
	}
	off := COSEKey{Kty: 2, Alg: -7, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}
	if _, err := off.ECDSA(); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("point off the curve: %v", err)
	}
}

// TestCanonicalEncoding: map keys sorted length-first (CTAP 2.1 §8).
func TestCanonicalEncoding(t *testing.T) {
	got := MustMarshal(map[string]int{"up": 1, "rk": 2, "plat": 3, "uv": 4, "clientPin": 5})
	want := "a562726b02627570016275760464706c6174036963" + "6c69656e7450696e05"
	if hex.EncodeToString(got) != want {
		t.Fatalf("got %x\nwant %s", got, want)
	}
	resp := MustMarshal(&GetAssertionResponse{AuthData: []byte{1}, Signature: []byte{2}, NumberOfCredentials: 2})
	if !bytes.HasPrefix(resp, []byte{0xa3, 0x02}) {
		t.Fatalf("integer keys not in order: %x", resp)
	}
}

// FuzzParseAuthData: never panics; what parses re-encodes to the same bytes.
func FuzzParseAuthData(f *testing.F) {
	_, cose := testKey(f)
	f.Add((&AuthData{Flags: FlagUP | FlagUV, Counter: 3}).Marshal())
	f.Add((&AuthData{Flags: FlagUP, Attested: &AttestedCredential{CredentialID: []byte{1}, PublicKey: cose},
		Extensions: MustMarshal(map[string]bool{"hmac-secret": true})}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthData(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Marshal(), b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", a.Marshal(), b)
		}
	})
}

// FuzzUnmarshalRequests decodes arbitrary bytes as every request type: no
// panic, and only CTAP statuses as errors.
func FuzzUnmarshalRequests(f *testing.F) {
	f.Add(MustMarshal(&MakeCredentialRequest{ClientDataHash: make([]byte, 32), RP: &RPEntity{ID: "a"}}))
	f.Add(MustMarshal(&GetAssertionRequest{RPID: "a", ClientDataHash: make([]byte, 32)}))
	f.Add(MustMarshal(&ClientPINRequest{SubCommand: 2, PinUvAuthProtocol: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&MakeCredentialRequest{}, &GetAssertionRequest{}, &ClientPINRequest{},
			&CredMgmtRequest{}, &CredMgmtParams{}, &ConfigRequest{}, &LargeBlobsRequest{}, &HMACSecretInput{}, &COSEKey{}} {
			err := Unmarshal(b, v)
			if err != nil && StatusOf(err) != ErrInvalidCBOR && StatusOf(err) != ErrCBORUnexpectedType {
				t.Fatalf("%T: error without a CBOR status: %v", v, err)
			}
		}
	})
}
