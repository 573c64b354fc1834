package attestation

import (
	"bytes"
	"errors"
	"testing"
)

// TestApplyConveyance follows WebAuthn Level 3 §5.1.3: only "none" (and
// what counts as none) changes the statement, and it keeps self
// attestation with a zero AAGUID.
func TestApplyConveyance(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	zero := [16]byte{}
	none := Statement{Format: "none", AttStmt: []byte{0xa0}}
	for _, tc := range []struct {
		name     string
		pref     string
		att      Attester
		aaguid   [16]byte
		stripped bool
	}{
		{"none strips basic", "none", &PackedBasic{CA: ca}, DefaultAAGUID, true},
		{"none strips android-key", "none", &AndroidKey{CA: ca}, DefaultAAGUID, true},
		{"none strips tpm", "none", &TPM{CA: ca, Certifier: newSoftTPM(t)}, DefaultAAGUID, true},
		{"none strips self with an AAGUID", "none", PackedSelf{}, DefaultAAGUID, true},
		{"none keeps self with a zero AAGUID", "none", PackedSelf{}, zero, false},
		{"none strips basic with a zero AAGUID", "none", &PackedBasic{CA: ca}, zero, true},
		{"empty is none", "", &PackedBasic{CA: ca}, DefaultAAGUID, true},
		{"unknown is none", "everything", &PackedBasic{CA: ca}, DefaultAAGUID, true},
		{"none keeps none", "none", None{}, DefaultAAGUID, true},
		{"indirect keeps", "indirect", &PackedBasic{CA: ca}, DefaultAAGUID, false},
		{"direct keeps", "direct", &AndroidKey{CA: ca}, DefaultAAGUID, false},
		{"enterprise keeps", "enterprise", &PackedBasic{CA: ca}, DefaultAAGUID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := newInput(t, tc.aaguid, newCred(t), "challenge")
			authData := bytes.Clone(in.AuthData)
			st, err := tc.att.Attest(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ApplyConveyance(tc.pref, st.Format, st.AttStmt, in.AuthData)
			if err != nil {
				t.Fatal(err)
			}
			want := st
			if tc.stripped {
				want = none
			}
			if got.Format != want.Format || !bytes.Equal(got.AttStmt, want.AttStmt) {
				t.Errorf("conveyed %q %x, want %q %x", got.Format, got.AttStmt, want.Format, want.AttStmt)
			}
			if !bytes.Equal(in.AuthData, authData) {
				t.Error("ApplyConveyance changed authData (Level 3 keeps the AAGUID)")
			}
		})
	}
}

func TestApplyConveyanceRejectsMalformed(t *testing.T) {
	in, _ := newInput(t, [16]byte{}, newCred(t), "challenge")
	if _, err := ApplyConveyance("none", "packed", []byte{0xa1}, in.AuthData); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("truncated attStmt: %v, want ErrInvalidInput", err)
	}
	if _, err := ApplyConveyance("none", "packed", []byte{0xa0}, in.AuthData[:40]); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("short authData: %v, want ErrInvalidInput", err)
	}
}

// FuzzApplyConveyance feeds arbitrary statements and authenticatorData: it
// must never panic, and under "none" it conveys either the statement it was
// given or fmt none with attStmt {}.
func FuzzApplyConveyance(f *testing.F) {
	f.Add("none", "packed", []byte{0xa2, 0x63, 'a', 'l', 'g', 0x26, 0x63, 's', 'i', 'g', 0x40}, bytes.Repeat([]byte{0x41}, 60))
	f.Add("none", "packed", []byte{0xa0}, make([]byte, 60))
	f.Fuzz(func(t *testing.T, pref, format string, attStmt, authData []byte) {
		st, err := ApplyConveyance(pref, format, attStmt, authData)
		if err != nil {
			return
		}
		kept := st.Format == format && bytes.Equal(st.AttStmt, attStmt)
		stripped := st.Format == "none" && bytes.Equal(st.AttStmt, []byte{0xa0})
		if !kept && !stripped {
			t.Errorf("conveyed %q %x from %q %x", st.Format, st.AttStmt, format, attStmt)
		}
	})
}
