package attestation

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

func TestNoneStatement(t *testing.T) {
	st, err := None{}.Attest(Input{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != "none" || !bytes.Equal(st.AttStmt, []byte{0xa0}) {
		t.Errorf("none = %q %x, want \"none\" a0", st.Format, st.AttStmt)
	}
}

// TestPackedSelfStatement checks what WebAuthn §8.2's verification
// procedure reads of self attestation: alg matches the credential key, sig
// is by the credential key over authData ‖ clientDataHash, no x5c.
func TestPackedSelfStatement(t *testing.T) {
	cred := newCred(t)
	in, _ := newInput(t, DefaultAAGUID, cred, "challenge")
	st, err := PackedSelf{}.Attest(in)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeStmt(t, st.AttStmt)
	if st.Format != "packed" || !maps.Equal(stmtKeys(m), map[string]bool{"alg": true, "sig": true}) {
		t.Fatalf("statement %q %v, want packed {alg, sig}", st.Format, stmtKeys(m))
	}
	if m["alg"] != int64(-7) {
		t.Errorf("alg = %v, want -7", m["alg"])
	}
	sig, _ := m["sig"].([]byte)
	verifySig(t, cred.signer.Public(), sig, in.AuthData, in.ClientDataHash)
}

// TestPackedBasicStatement checks the basic attestation statement: sig by
// the attestation certificate's key over authData ‖ clientDataHash, and an
// x5c whose leaf meets §8.2.1 and chains to the root.
func TestPackedBasicStatement(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	for name, aaguid := range map[string][16]byte{"init AAGUID": DefaultAAGUID, "overridden AAGUID": {1, 2, 3}} {
		t.Run(name, func(t *testing.T) {
			in, _ := newInput(t, aaguid, newCred(t), "challenge")
			st, err := (&PackedBasic{CA: ca}).Attest(in)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeStmt(t, st.AttStmt)
			if st.Format != "packed" || !maps.Equal(stmtKeys(m), map[string]bool{"alg": true, "sig": true, "x5c": true}) {
				t.Fatalf("statement %q %v, want packed {alg, sig, x5c}", st.Format, stmtKeys(m))
			}
			if m["alg"] != int64(-7) {
				t.Errorf("alg = %v, want -7", m["alg"])
			}
			certs := x5c(t, m)
			sig, _ := m["sig"].([]byte)
			verifySig(t, certs[0].PublicKey, sig, in.AuthData, in.ClientDataHash)
			checkAttestationCert(t, certs[0], aaguid)
			verifyChain(t, ca.Root(), certs[0], certs[1:]...)
		})
	}
}

func TestAttestRejectsBadInput(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	other := newCred(t)
	for name, edit := range map[string]func(*Input){
		"short clientDataHash": func(in *Input) { in.ClientDataHash = in.ClientDataHash[:31] },
		"no AT flag":           func(in *Input) { in.AuthData[32] &^= 0x40 },
		"AAGUID differs":       func(in *Input) { in.AAGUID[0] ^= 1 },
		"truncated authData":   func(in *Input) { in.AuthData = in.AuthData[:50] },
		"other key":            func(in *Input) { in.CredentialKey = other.signer },
	} {
		for _, att := range []Attester{PackedSelf{}, &AndroidKey{CA: ca}} {
			t.Run(name+"/"+att.Format(), func(t *testing.T) {
				in, _ := newInput(t, DefaultAAGUID, newCred(t), "challenge")
				edit(&in)
				if _, err := att.Attest(in); !errors.Is(err, ErrInvalidInput) {
					t.Errorf("Attest = %v, want ErrInvalidInput", err)
				}
			})
		}
	}
}

// TestAttestConcurrently shares one CA between goroutines attesting for
// several AAGUIDs, as the daemon does (run with -race).
func TestAttestConcurrently(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	atts := []Attester{&PackedBasic{CA: ca}, &AndroidKey{CA: ca}, &TPM{CA: ca, Certifier: newSoftTPM(t)}}
	for i := range 12 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			aaguid := [16]byte{byte(i % 3)}
			in, _ := newInput(t, aaguid, newCred(t), "challenge")
			if _, err := atts[i%3].Attest(in); err != nil {
				t.Error(err)
			}
		})
	}
}
