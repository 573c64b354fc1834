package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"errors"
	"github.com/passkeyd/passkeyd/internal/testenv"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// TestSWTPM runs the tpm format through a real TPM 2.0: Debian's swtpm on
// 127.0.0.1, driven with go-tpm. The credential key is created in the TPM
// and certified there by a restricted attestation key; go-webauthn then
// verifies the statement against the local root, and rejects it against
// another root.
func TestSWTPM(t *testing.T) {
	tpm := startSWTPM(t)
	certifier := newSWTPMCertifier(t, tpm)
	ca := testCA(t, DefaultAAGUID)
	att := &TPM{CA: ca, Certifier: certifier}
	t.Logf("swtpm: manufacturer %08X, model %q, firmware %08X", certifier.dev.Manufacturer, certifier.dev.Model, certifier.dev.FirmwareVersion)

	t.Run("statement", func(t *testing.T) {
		cred := certifier.newKey(t)
		in, _ := newInput(t, DefaultAAGUID, cred, "challenge")
		st, err := att.Attest(in)
		if err != nil {
			t.Fatal(err)
		}
		checkTPMStatement(t, ca, st, in, certifier.dev)
	})
	t.Run("go-webauthn accepts", func(t *testing.T) {
		cred, err := register(t, relyingParty(t, DefaultAAGUID, ca.Root()), att, DefaultAAGUID, certifier.newKey(t), nil)
		if err != nil {
			t.Fatalf("go-webauthn rejected the swtpm statement: %s", describe(err))
		}
		if cred.AttestationType != "attca" {
			t.Errorf("attestation type %q, want attca", cred.AttestationType)
		}
	})
	t.Run("go-webauthn rejects another root", func(t *testing.T) {
		other := testCA(t, DefaultAAGUID).Root()
		if _, err := register(t, relyingParty(t, DefaultAAGUID, other), att, DefaultAAGUID, certifier.newKey(t), nil); err == nil {
			t.Fatal("go-webauthn accepted the swtpm statement against another root")
		}
	})
}

// startSWTPM starts swtpm on free loopback ports (internal/testenv) and
// returns a connection to its TPM command port. It skips the test when
// swtpm is not installed.
func startSWTPM(t *testing.T) transport.TPM {
	t.Helper()
	w := testenv.StartSWTPM(t)
	conn, err := net.DialTimeout("tcp", w.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("cannot reach swtpm: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawTPM{conn: conn}
}

// rawTPM speaks raw TPM commands to swtpm's server port, retrying the
// warnings libtpms answers while it runs self-tests (TPM_RC_RETRY 0x922,
// TPM_RC_TESTING 0x90A, TPM_RC_YIELDED 0x908).
type rawTPM struct{ conn net.Conn }

func (r *rawTPM) Send(cmd []byte) ([]byte, error) {
	for try := 0; ; try++ {
		rsp, err := r.roundTrip(cmd)
		if err != nil || try == 20 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case 0x922, 0x90A, 0x908:
			time.Sleep(10 * time.Millisecond)
			continue
		}
		return rsp, nil
	}
}

func (r *rawTPM) roundTrip(cmd []byte) ([]byte, error) {
	if _, err := r.conn.Write(cmd); err != nil {
		return nil, err
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(r.conn, hdr); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > 1<<16 {
		return nil, errors.New("bad TPM response size")
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	_, err := io.ReadFull(r.conn, rsp[10:])
	return rsp, err
}

// swtpmCertifier is a test-only TPMCertifier on a real TPM: credential
// keys under an ECC SRK, certified by a restricted ECDSA attestation key.
type swtpmCertifier struct {
	tpm   transport.TPM
	srk   tpm2.NamedHandle
	ak    tpm2.NamedHandle
	akPub *ecdsa.PublicKey
	dev   TPMDevice
	keys  map[string]swtpmKey
}

type swtpmKey struct {
	handle  tpm2.NamedHandle
	pubArea []byte
}

var _ TPMCertifier = (*swtpmCertifier)(nil)

func newSWTPMCertifier(t *testing.T, tpm transport.TPM) *swtpmCertifier {
	t.Helper()
	c := &swtpmCertifier{tpm: tpm, keys: map[string]swtpmKey{}}
	c.srk, _ = c.createPrimary(t, tpm2.ECCSRKTemplate)
	var akArea *tpm2.TPMTPublic
	c.ak, akArea = c.createPrimary(t, attestationKeyTemplate())
	c.akPub = eccKey(t, akArea)
	c.dev = c.device(t)
	return c
}

func (c *swtpmCertifier) createPrimary(t *testing.T, tmpl tpm2.TPMTPublic) (tpm2.NamedHandle, *tpm2.TPMTPublic) {
	t.Helper()
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tmpl)}.Execute(c.tpm)
	if err != nil {
		t.Fatalf("TPM2_CreatePrimary: %v", err)
	}
	c.flushAtEnd(t, rsp.ObjectHandle)
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, pub
}

func (c *swtpmCertifier) flushAtEnd(t *testing.T, h tpm2.TPMHandle) {
	t.Cleanup(func() { tpm2.FlushContext{FlushHandle: h}.Execute(c.tpm) })
}

// attestationKeyTemplate is a restricted ECC P-256 ECDSA-SHA256 signing
// key: it signs only TPM-generated structures.
func attestationKeyTemplate() tpm2.TPMTPublic {
	tmpl := credentialKeyTemplate()
	tmpl.ObjectAttributes.Restricted = true
	tmpl.ObjectAttributes.NoDA = true
	return tmpl
}

func eccKey(t *testing.T, pub *tpm2.TPMTPublic) *ecdsa.PublicKey {
	t.Helper()
	point, err := pub.Unique.ECC()
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 32), make([]byte, 32)
	copy(x[32-len(point.X.Buffer):], point.X.Buffer)
	copy(y[32-len(point.Y.Buffer):], point.Y.Buffer)
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// device reads what the AIK certificate names: manufacturer, vendor
// string and firmware version (TPM 2.0 Part 2 §6.13 TPM_PT).
func (c *swtpmCertifier) device(t *testing.T) TPMDevice {
	t.Helper()
	props := map[tpm2.TPMPT]uint32{}
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTManufacturer), PropertyCount: 8}.Execute(c.tpm)
	if err != nil {
		t.Fatalf("TPM2_GetCapability: %v", err)
	}
	list, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.TPMProperty {
		props[p.Property] = p.Value
	}
	var vendor []byte
	for p := tpm2.TPMPTVendorString1; p <= tpm2.TPMPTVendorString1+3; p++ {
		vendor = binary.BigEndian.AppendUint32(vendor, props[p])
	}
	return TPMDevice{
		Manufacturer:    props[tpm2.TPMPTManufacturer],
		Model:           strings.TrimRight(string(vendor), "\x00 "),
		FirmwareVersion: props[tpm2.TPMPTFirmwareVersion1],
	}
}

// newKey creates and loads a credential key in the TPM.
func (c *swtpmCertifier) newKey(t *testing.T) testCred {
	t.Helper()
	parent := tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)}
	created, err := tpm2.Create{ParentHandle: parent, InPublic: tpm2.New2B(credentialKeyTemplate())}.Execute(c.tpm)
	if err != nil {
		t.Fatalf("TPM2_Create: %v", err)
	}
	loaded, err := tpm2.Load{ParentHandle: parent, InPrivate: created.OutPrivate, InPublic: created.OutPublic}.Execute(c.tpm)
	if err != nil {
		t.Fatalf("TPM2_Load: %v", err)
	}
	c.flushAtEnd(t, loaded.ObjectHandle)
	pub, err := created.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	cred := newCred(t)
	c.keys[string(cred.id)] = swtpmKey{tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name}, created.OutPublic.Bytes()}
	cred.signer = publicOnly{eccKey(t, pub)}
	return cred
}

func (c *swtpmCertifier) AttestationKey() (crypto.PublicKey, TPMDevice, error) {
	return c.akPub, c.dev, nil
}

func (c *swtpmCertifier) Certify(credID []byte, _ crypto.Signer, qualifyingData []byte) (*TPMCertification, error) {
	k, ok := c.keys[string(credID)]
	if !ok {
		return nil, errors.New("no such TPM key")
	}
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: k.handle.Handle, Name: k.handle.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: c.ak.Handle, Name: c.ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(c.tpm)
	if err != nil {
		return nil, err
	}
	return &TPMCertification{PubArea: k.pubArea, CertInfo: rsp.CertifyInfo.Bytes(), Signature: tpm2.Marshal(rsp.Signature)}, nil
}

// publicOnly stands for a TPM-resident key: the tpm format needs only its
// public half.
type publicOnly struct{ pub *ecdsa.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (p publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("the key lives in the TPM")
}
