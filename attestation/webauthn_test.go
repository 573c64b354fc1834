package attestation

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// TestGoWebAuthnAccepts registers a credential with each format at
// go-webauthn acting as an independent relying party that asks for direct
// attestation and trusts the exported root.
func TestGoWebAuthnAccepts(t *testing.T) {
	aaguid := DefaultAAGUID
	ca := testCA(t, aaguid)
	trustAndroidRoot(t, ca.Root())
	root := rootFromPEM(t, ca.RootPEM())
	for _, tc := range []struct {
		name     string
		att      Attester
		wantType string
	}{
		{"none", None{}, "none"},
		{"packed-self", PackedSelf{}, "basic_surrogate"},
		{"packed-x5c", &PackedBasic{CA: ca}, "basic_full"},
		{"android-key", &AndroidKey{CA: ca}, "basic_full"},
		{"android-key/strongbox", &AndroidKey{CA: ca, StrongBox: true}, "basic_full"},
		{"tpm", &TPM{CA: ca, Certifier: newSoftTPM(t)}, "attca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wa := relyingParty(t, aaguid, root)
			cred, err := register(t, wa, tc.att, aaguid, newCred(t), nil)
			if err != nil {
				t.Fatalf("go-webauthn rejected %s: %v", tc.att.Format(), describe(err))
			}
			if cred.AttestationType != tc.wantType || cred.AttestationFormat != tc.att.Format() {
				t.Errorf("attestation type %q format %q, want %q %q", cred.AttestationType, cred.AttestationFormat, tc.wantType, tc.att.Format())
			}
			if [16]byte(cred.Authenticator.AAGUID) != aaguid {
				t.Errorf("AAGUID %x, want %x", cred.Authenticator.AAGUID, aaguid)
			}
		})
	}
}

// TestGoWebAuthnRejectsOtherRoot verifies each format with a certificate
// chain against a relying party that trusts a different root.
func TestGoWebAuthnRejectsOtherRoot(t *testing.T) {
	aaguid := DefaultAAGUID
	ca := testCA(t, aaguid)
	other := testCA(t, aaguid).Root()
	for _, tc := range []struct {
		name       string
		att        Attester
		androidTTP *x509.Certificate
	}{
		{"packed", &PackedBasic{CA: ca}, nil},
		{"android-key/metadata root", &AndroidKey{CA: ca}, ca.Root()},
		{"android-key/hardware root", &AndroidKey{CA: ca}, other},
		{"tpm", &TPM{CA: ca, Certifier: newSoftTPM(t)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.androidTTP != nil {
				trustAndroidRoot(t, tc.androidTTP)
			}
			wa := relyingParty(t, aaguid, other)
			_, err := register(t, wa, tc.att, aaguid, newCred(t), nil)
			if err == nil {
				t.Fatal("go-webauthn accepted a chain to an untrusted root")
			}
			t.Log(describe(err))
		})
	}
}

// TestGoWebAuthnRejectsTampering makes each format sign over a
// clientDataHash other than the one the RP computes.
func TestGoWebAuthnRejectsTampering(t *testing.T) {
	aaguid := DefaultAAGUID
	ca := testCA(t, aaguid)
	trustAndroidRoot(t, ca.Root())
	for name, att := range map[string]Attester{
		"packed-self": PackedSelf{}, "packed-x5c": &PackedBasic{CA: ca},
		"android-key": &AndroidKey{CA: ca}, "tpm": &TPM{CA: ca, Certifier: newSoftTPM(t)},
	} {
		t.Run(name, func(t *testing.T) {
			wa := relyingParty(t, aaguid, ca.Root())
			_, err := register(t, wa, att, aaguid, newCred(t), func(in *Input) {
				in.ClientDataHash = append([]byte(nil), in.ClientDataHash...)
				in.ClientDataHash[0] ^= 1
			})
			if err == nil {
				t.Fatal("go-webauthn accepted a statement over another clientDataHash")
			}
			t.Log(describe(err))
		})
	}
}

// rootFromPEM parses what `passkeyd attestation export` prints.
func rootFromPEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("RootPEM is not one PEM certificate: %q", b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// describe spells out a go-webauthn error with its details.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%v (%s; %s)", err, pe.Details, pe.DevInfo)
	}
	return err.Error()
}
