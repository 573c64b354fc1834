package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"maps"
	"slices"
	"testing"
	"time"
)

// TestAndroidKeyStatement checks every field the android-key verification
// procedure (WebAuthn §8.4) reads, parsing the key description with its own
// reading of the Android key attestation schema.
func TestAndroidKeyStatement(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	for name, strongBox := range map[string]bool{"TEE": false, "StrongBox": true} {
		t.Run(name, func(t *testing.T) {
			cred := newCred(t)
			in, _ := newInput(t, DefaultAAGUID, cred, "challenge")
			st, err := (&AndroidKey{CA: ca, StrongBox: strongBox, PackageName: "com.example.provider"}).Attest(in)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeStmt(t, st.AttStmt)
			if st.Format != "android-key" || !maps.Equal(stmtKeys(m), map[string]bool{"alg": true, "sig": true, "x5c": true}) {
				t.Fatalf("statement %q %v, want android-key {alg, sig, x5c}", st.Format, stmtKeys(m))
			}
			if m["alg"] != int64(-7) {
				t.Errorf("alg = %v, want -7", m["alg"])
			}
			certs := x5c(t, m)
			if !certs[0].PublicKey.(*ecdsa.PublicKey).Equal(cred.signer.Public()) {
				t.Error("x5c leaf does not certify the credential public key")
			}
			sig, _ := m["sig"].([]byte)
			verifySig(t, cred.signer.Public(), sig, in.AuthData, in.ClientDataHash)
			if len(certs) != 2 || !certs[1].IsCA {
				t.Fatalf("x5c has %d certificates, want leaf and the Android keystore CA", len(certs))
			}
			verifyChain(t, ca.Root(), certs[0], certs[1])
			level := 1
			if strongBox {
				level = 2
			}
			checkKeyDescription(t, keyDescriptionOf(t, certs[0]), in.ClientDataHash, level)
		})
	}
}

type testKeyDescription struct {
	AttestationVersion       int
	AttestationSecurityLevel asn1.Enumerated
	KeymasterVersion         int
	KeymasterSecurityLevel   asn1.Enumerated
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         asn1.RawValue
	TeeEnforced              asn1.RawValue
}

func keyDescriptionOf(t *testing.T, c *x509.Certificate) testKeyDescription {
	t.Helper()
	var d testKeyDescription
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}) {
			continue
		}
		if ext.Critical {
			t.Error("key attestation extension is critical")
		}
		if rest, err := asn1.Unmarshal(ext.Value, &d); err != nil || len(rest) != 0 {
			t.Fatalf("KeyDescription: %v", err)
		}
		return d
	}
	t.Fatal("no key attestation extension 1.3.6.1.4.1.11129.2.1.17")
	return d
}

func checkKeyDescription(t *testing.T, d testKeyDescription, clientDataHash []byte, level int) {
	t.Helper()
	if d.AttestationVersion != 300 || d.KeymasterVersion != 300 {
		t.Errorf("versions %d %d, want 300", d.AttestationVersion, d.KeymasterVersion)
	}
	if int(d.AttestationSecurityLevel) != level || int(d.KeymasterSecurityLevel) != level {
		t.Errorf("security levels %d %d, want %d", d.AttestationSecurityLevel, d.KeymasterSecurityLevel, level)
	}
	if !bytes.Equal(d.AttestationChallenge, clientDataHash) {
		t.Error("attestationChallenge is not clientDataHash")
	}
	if len(d.UniqueID) != 0 {
		t.Errorf("uniqueId %x, want empty", d.UniqueID)
	}
	tee, sw := authList(t, d.TeeEnforced), authList(t, d.SoftwareEnforced)
	checkTEEList(t, tee)
	if _, ok := tee[600]; ok {
		t.Error("teeEnforced has allApplications")
	}
	if _, ok := sw[600]; ok {
		t.Error("softwareEnforced has allApplications")
	}
	var created int64
	unmarshal(t, sw, 701, &created, "")
	if d := time.Since(time.UnixMilli(created)); d < 0 || d > time.Minute {
		t.Errorf("creationDateTime is %v ago", d)
	}
	var appID struct {
		Packages []struct {
			Name    []byte
			Version int
		} `asn1:"set"`
		Digests [][]byte `asn1:"set"`
	}
	var appIDDER []byte
	unmarshal(t, sw, 709, &appIDDER, "")
	if _, err := asn1.Unmarshal(appIDDER, &appID); err != nil || len(appID.Packages) != 1 || string(appID.Packages[0].Name) != "com.example.provider" {
		t.Errorf("attestationApplicationId %+v: %v", appID, err)
	}
}

// checkTEEList checks what a real keystore enforces in hardware for a
// passkey key, and what WebAuthn §8.4 requires there: purpose SIGN and
// origin GENERATED.
func checkTEEList(t *testing.T, tee map[int][]byte) {
	t.Helper()
	var purpose, digest []int
	unmarshal(t, tee, 1, &purpose, "set")
	unmarshal(t, tee, 5, &digest, "set")
	if !slices.Equal(purpose, []int{2}) || !slices.Equal(digest, []int{4}) {
		t.Errorf("purpose %v digest %v, want [2] [4]", purpose, digest)
	}
	for tag, want := range map[int]int{2: 3, 3: 256, 10: 1, 702: 0} {
		var got int
		unmarshal(t, tee, tag, &got, "")
		if got != want {
			t.Errorf("tag %d = %d, want %d", tag, got, want)
		}
	}
	if !bytes.Equal(tee[503], []byte{0x05, 0x00}) {
		t.Errorf("noAuthRequired = %x, want NULL", tee[503])
	}
	var rot struct {
		Key    []byte
		Locked bool
		State  asn1.Enumerated
		Hash   []byte
	}
	unmarshal(t, tee, 704, &rot, "")
	if len(rot.Key) != 32 || !rot.Locked || rot.State != 0 || len(rot.Hash) != 32 {
		t.Errorf("rootOfTrust %+v, want a locked, verified boot", rot)
	}
	for _, tag := range []int{705, 706, 718, 719} {
		if _, ok := tee[tag]; !ok {
			t.Errorf("teeEnforced lacks tag %d", tag)
		}
	}
}

// authList reads an AuthorizationList: every field an explicitly tagged,
// context-specific element, in strictly ascending tag order. It returns the
// DER inside each tag.
func authList(t *testing.T, raw asn1.RawValue) map[int][]byte {
	t.Helper()
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
		t.Fatalf("AuthorizationList is not a SEQUENCE")
	}
	fields, last := map[int][]byte{}, -1
	for rest := raw.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			t.Fatal(err)
		}
		if f.Class != asn1.ClassContextSpecific || !f.IsCompound || f.Tag <= last {
			t.Fatalf("field [%d] is not an EXPLICIT context tag in ascending order", f.Tag)
		}
		fields[f.Tag], last = f.Bytes, f.Tag
	}
	return fields
}

func unmarshal(t *testing.T, fields map[int][]byte, tag int, v any, params string) {
	t.Helper()
	b, ok := fields[tag]
	if !ok {
		t.Errorf("tag %d is missing", tag)
		return
	}
	if rest, err := asn1.UnmarshalWithParams(b, v, params); err != nil || len(rest) != 0 {
		t.Errorf("tag %d: %v", tag, err)
	}
}
