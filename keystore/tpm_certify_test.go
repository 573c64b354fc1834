package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestTPMCertify(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		blob, _, err := s.NewKey(credID(1))
		if err != nil {
			t.Fatal(err)
		}
		nonce := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
		attest, sig, err := s.Certify(credID(1), blob, nonce[:])
		if err != nil {
			t.Fatalf("Certify: %v", err)
		}
		akPub, err := s.AttestationPublic()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(attest)
		if !ecdsa.VerifyASN1(akPub.(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatal("the certification signature does not verify with the attestation key")
		}
		checkCertifyInfo(t, attest, nonce[:], s.mustPublicArea(t, blob))
	})
}

// checkCertifyInfo checks that a TPMS_ATTEST certifies the object whose
// public area is pubArea, with extraData nonce.
func checkCertifyInfo(t *testing.T, attest, nonce, pubArea []byte) {
	t.Helper()
	info, err := tpm2.Unmarshal[tpm2.TPMSAttest](attest)
	if err != nil {
		t.Fatalf("certInfo is not a TPMS_ATTEST: %v", err)
	}
	if info.Type != tpm2.TPMSTAttestCertify || !bytes.Equal(info.ExtraData.Buffer, nonce) {
		t.Fatalf("certInfo type %v extraData %x, want certify with the nonce", info.Type, info.ExtraData.Buffer)
	}
	certified, err := info.Attested.Certify()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(pubArea)
	wantName := append([]byte{0, byte(tpm2.TPMAlgSHA256)}, h[:]...)
	if !bytes.Equal(certified.Name.Buffer, wantName) {
		t.Fatalf("certified name %x, want the credential key's %x", certified.Name.Buffer, wantName)
	}
}

func (s *TPMSealer) mustPublicArea(t *testing.T, blob []byte) []byte {
	t.Helper()
	pub, err := s.CredentialPublicArea(credID(1), blob)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestTPMAttestationKeyStableAcrossReopen(t *testing.T) {
	w := startSWTPM(t)
	dir := t.TempDir()
	s1, err := OpenTPM(w.spec(), dir)
	if err != nil {
		t.Fatal(err)
	}
	pub1, err := s1.AttestationPublic()
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	w.restart(t)
	pub2, err := openTestTPM(t, w.spec(), dir).AttestationPublic()
	if err != nil {
		t.Fatal(err)
	}
	if !pub1.(*ecdsa.PublicKey).Equal(pub2) {
		t.Fatal("the attestation key changed across a restart")
	}
}
