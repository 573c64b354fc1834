package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
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
	s1, err := OpenTPM(w.Spec(), dir)
	if err != nil {
		t.Fatal(err)
	}
	pub1, err := s1.AttestationPublic()
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	w.Restart(t)
	pub2, err := openTestTPM(t, w.Spec(), dir).AttestationPublic()
	if err != nil {
		t.Fatal(err)
	}
	if !pub1.(*ecdsa.PublicKey).Equal(pub2) {
		t.Fatal("the attestation key changed across a restart")
	}
}

func TestTPMCertifyKey(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		blob, made, err := s.NewKey(credID(1))
		if err != nil {
			t.Fatal(err)
		}
		reopened, err := s.Signer(credID(1), blob)
		if err != nil {
			t.Fatal(err)
		}
		akPub, err := s.AttestationPublic()
		if err != nil {
			t.Fatal(err)
		}
		for name, signer := range map[string]crypto.Signer{"from NewKey": made, "from Signer": reopened} {
			t.Run(name, func(t *testing.T) {
				nonce := sha256.Sum256([]byte(name))
				pubArea, certInfo, sig, err := s.CertifyKey(credID(1), signer, nonce[:])
				if err != nil {
					t.Fatalf("CertifyKey: %v", err)
				}
				if want := s.mustPublicArea(t, blob); !bytes.Equal(pubArea, want) {
					t.Errorf("pubArea %x, want the blob's %x", pubArea, want)
				}
				digest := sha256.Sum256(certInfo)
				if !ecdsa.VerifyASN1(akPub.(*ecdsa.PublicKey), digest[:], sig) {
					t.Fatal("the certification signature does not verify with the attestation key")
				}
				checkCertifyInfo(t, certInfo, nonce[:], pubArea)
			})
		}
	})
}

func TestTPMCertifyKeyRefusals(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	_, signer, err := s.NewKey(credID(1))
	if err != nil {
		t.Fatal(err)
	}
	software, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherSealer := &tpmSigner{s: &TPMSealer{}, key: signer.(*tpmSigner).key}
	for _, tc := range []struct {
		name   string
		id     []byte
		signer crypto.Signer
		want   error
	}{
		{"a software key", credID(1), software, ErrNotTPMSigner},
		{"nil", credID(1), nil, ErrNotTPMSigner},
		{"another TPMSealer's key", credID(1), otherSealer, ErrNotTPMSigner},
		{"another credential's key", credID(2), signer, ErrSealedData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := s.CertifyKey(tc.id, tc.signer, make([]byte, 32))
			if !errors.Is(err, tc.want) {
				t.Fatalf("CertifyKey: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTPMDevice(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		manufacturer, model, firmware, err := s.Device()
		if err != nil {
			t.Fatalf("Device: %v", err)
		}
		t.Logf("manufacturer %08X, model %q, firmware %08X", manufacturer, model, firmware)
		want := uint32(0x49424D00) // "IBM": libtpms, in swtpm
		if !strings.HasPrefix(spec, "tcp:") {
			want = 0x4D534654 // "MSFT": the reference implementation in the simulator
		}
		if manufacturer != want {
			t.Errorf("manufacturer %08X, want %08X", manufacturer, want)
		}
		if model == "" || strings.ContainsFunc(model, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Errorf("model %q, want printable ASCII", model)
		}
		m2, model2, f2, err := s.Device()
		if err != nil || m2 != manufacturer || model2 != model || f2 != firmware {
			t.Errorf("second Device() = %08X %q %08X %v, want the first answer", m2, model2, f2, err)
		}
	})
}

func TestVendorString(t *testing.T) {
	for _, tc := range []struct {
		words []uint32
		want  string
	}{
		{[]uint32{0x53572020, 0x2054504D, 0, 0}, "SW   TPM"},                    // "SW  " " TPM"
		{[]uint32{0x534C4239, 0x36373000, 0, 0}, "SLB9670"},                     // NUL padding inside a word
		{[]uint32{0x41424344, 0x00454647, 0xFF000048, 0x49000000}, "ABCDEFGHI"}, // stray NUL and a non-ASCII byte
		{[]uint32{0, 0, 0, 0}, ""},
	} {
		if got := vendorString(tc.words); got != tc.want {
			t.Errorf("vendorString(%08X) = %q, want %q", tc.words, got, tc.want)
		}
	}
}
