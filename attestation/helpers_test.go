package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
	_ "unsafe" // go:linkname, to trust the local root for android-key

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

const (
	testRPID    = "login.passkeyd.test"
	testOrigin  = "https://login.passkeyd.test"
	flagsUPUVAT = 0x45
)

// go-webauthn checks android-key chains against Google's hardware
// attestation roots only, in this unexported pool (protocol/init.go). A
// relying party testing with passkeyd trusts the local root instead; the
// tests swap the pool for one holding the root under test.
//
//go:linkname androidKeyRoots github.com/go-webauthn/webauthn/protocol.attAndroidKeyHardwareRootsCertPool
var androidKeyRoots *x509.CertPool

// trustAndroidRoot makes go-webauthn's android-key verifier trust root for
// the rest of the test.
func trustAndroidRoot(t *testing.T, root *x509.Certificate) {
	t.Helper()
	saved := androidKeyRoots
	pool := x509.NewCertPool()
	pool.AddCert(root)
	androidKeyRoots = pool
	t.Cleanup(func() { androidKeyRoots = saved })
}

// testCred is a new credential: its ID and a signer for its key. For tpm,
// the signer may be a handle whose Public is all that is used.
type testCred struct {
	id     []byte
	signer crypto.Signer
}

func newCred(t *testing.T) testCred {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return testCred{id: id, signer: key}
}

var ctap2Enc = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// coseKey is the COSE EC2 key {1:2, 3:-7, -1:1, -2:x, -3:y} with 32-byte
// coordinates, in CTAP2 canonical CBOR.
func coseKey(t *testing.T, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	point, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ctap2Enc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeAuthData builds authenticatorData by hand (WebAuthn §6.1): rpIdHash ‖
// flags UP|UV|AT ‖ counter ‖ aaguid ‖ credIdLen ‖ credId ‖ COSE key.
func makeAuthData(t *testing.T, aaguid [16]byte, cred testCred) []byte {
	t.Helper()
	rpIDHash := sha256.Sum256([]byte(testRPID))
	b := append([]byte(nil), rpIDHash[:]...)
	b = append(b, flagsUPUVAT)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, aaguid[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cred.id)))
	b = append(b, cred.id...)
	return append(b, coseKey(t, cred.signer.Public().(*ecdsa.PublicKey))...)
}

func clientDataJSON(t *testing.T, challenge string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": challenge, "origin": testOrigin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newInput makes the Input for cred under a fresh clientDataJSON.
func newInput(t *testing.T, aaguid [16]byte, cred testCred, challenge string) (Input, []byte) {
	t.Helper()
	cdj := clientDataJSON(t, challenge)
	cdh := sha256.Sum256(cdj)
	return Input{
		AuthData:       makeAuthData(t, aaguid, cred),
		ClientDataHash: cdh[:],
		CredentialID:   cred.id,
		CredentialKey:  cred.signer,
		AAGUID:         aaguid,
	}, cdj
}

// relyingParty is go-webauthn configured as a relying party that asks for
// direct attestation and trusts roots for aaguid through its metadata.
func relyingParty(t *testing.T, aaguid [16]byte, roots ...*x509.Certificate) *webauthn.WebAuthn {
	t.Helper()
	id := uuid.UUID(aaguid)
	mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{id: {
		AaGUID: id,
		MetadataStatement: metadata.Statement{
			AaGUID:      id,
			Description: "passkeyd under test",
			AttestationTypes: metadata.AuthenticatorAttestationTypes{
				metadata.BasicFull, metadata.AttCA, metadata.BasicSurrogate},
			AttestationRootCertificates: roots,
		},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  testRPID,
		RPDisplayName:         "passkeyd test RP",
		RPOrigins:             []string{testOrigin},
		AttestationPreference: protocol.PreferDirectAttestation,
		MDS:                   mds,
	})
	if err != nil {
		t.Fatal(err)
	}
	return wa
}

type testUser struct{}

func (testUser) WebAuthnID() []byte                         { return []byte("user-1") }
func (testUser) WebAuthnName() string                       { return "alice" }
func (testUser) WebAuthnDisplayName() string                { return "Alice" }
func (testUser) WebAuthnCredentials() []webauthn.Credential { return nil }

// register runs one registration ceremony against wa: the RP's challenge,
// clientDataJSON, the statement att makes (after edit, if any, changed the
// input) and the RP's verdict.
func register(t *testing.T, wa *webauthn.WebAuthn, att Attester, aaguid [16]byte, cred testCred, edit func(*Input)) (*webauthn.Credential, error) {
	t.Helper()
	creation, session, err := wa.BeginRegistration(testUser{})
	if err != nil {
		t.Fatal(err)
	}
	in, cdj := newInput(t, aaguid, cred, creation.Response.Challenge.String())
	authData := in.AuthData
	if edit != nil {
		edit(&in)
	}
	st, err := att.Attest(in)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	body := responseJSON(t, cred.id, cdj, attestationObject(t, st, authData))
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, err
	}
	return wa.CreateCredential(testUser{}, *session, parsed)
}

func attestationObject(t *testing.T, st Statement, authData []byte) []byte {
	t.Helper()
	b, err := ctap2Enc.Marshal(map[string]any{"fmt": st.Format, "attStmt": st.AttStmt, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func responseJSON(t *testing.T, id, cdj, attObj []byte) []byte {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	b, err := json.Marshal(map[string]any{
		"id": b64(id), "rawId": b64(id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64(cdj), "attestationObject": b64(attObj), "transports": []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCA makes a CA in a temporary directory.
func testCA(t *testing.T, aaguid [16]byte) *Authority {
	t.Helper()
	ca, err := InitCA(t.TempDir(), aaguid, CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// decodeStmt decodes an attStmt after checking it is CTAP2 canonical.
func decodeStmt(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := cbor.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	again, err := ctap2Enc.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(raw) {
		t.Errorf("attStmt is not CTAP2 canonical:\n got %x\nwant %x", raw, again)
	}
	return m
}

// stmtKeys returns the keys of an attStmt, for an exact comparison.
func stmtKeys(m map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range m {
		keys[k] = true
	}
	return keys
}

// x5c parses the x5c array of an attStmt.
func x5c(t *testing.T, m map[string]any) []*x509.Certificate {
	t.Helper()
	arr, ok := m["x5c"].([]any)
	if !ok || len(arr) == 0 {
		t.Fatalf("x5c = %#v, want a non-empty array", m["x5c"])
	}
	var certs []*x509.Certificate
	for _, c := range arr {
		der, ok := c.([]byte)
		if !ok {
			t.Fatalf("x5c element is %T, want bytes", c)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	return certs
}

// verifySig checks an ES256 DER signature over the concatenation of parts.
func verifySig(t *testing.T, pub crypto.PublicKey, sig []byte, parts ...[]byte) {
	t.Helper()
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || !ecdsa.VerifyASN1(ec, h.Sum(nil), sig) {
		t.Error("sig does not verify over the expected data with the expected key")
	}
}

// verifyChain checks that leaf chains to root through intermediates.
func verifyChain(t *testing.T, root *x509.Certificate, leaf *x509.Certificate, intermediates ...*x509.Certificate) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	leaf.UnhandledCriticalExtensions = nil // the TPM SAN holds only a directoryName
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("chain does not verify to the root: %v", err)
	}
}
