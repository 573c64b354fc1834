package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkAttestationCert checks the packed attestation certificate
// requirements of WebAuthn §8.2.1.
func checkAttestationCert(t *testing.T, c *x509.Certificate, aaguid [16]byte) {
	t.Helper()
	if c.Version != 3 {
		t.Errorf("version %d, want 3", c.Version)
	}
	s := c.Subject
	if len(s.Country) != 1 || len(s.Country[0]) != 2 || len(s.Organization) != 1 || s.Organization[0] == "" || s.CommonName == "" {
		t.Errorf("subject %v lacks C, O or CN", s)
	}
	if len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != "Authenticator Attestation" {
		t.Errorf("subject OU %q, want [Authenticator Attestation]", s.OrganizationalUnit)
	}
	if !c.BasicConstraintsValid || c.IsCA {
		t.Error("basic constraints are not CA=false")
	}
	checkAAGUIDExtension(t, c, aaguid)
	checkNoRevocationURLs(t, c)
	for _, ext := range c.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) && !ext.Critical {
			t.Error("basic constraints are not critical")
		}
	}
}

// checkAAGUIDExtension checks id-fido-gen-ce-aaguid: present once, not
// critical, an OCTET STRING wrapping an OCTET STRING of the AAGUID.
func checkAAGUIDExtension(t *testing.T, c *x509.Certificate, aaguid [16]byte) {
	t.Helper()
	var found int
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}) {
			continue
		}
		found++
		if ext.Critical {
			t.Error("AAGUID extension is critical")
		}
		want := append([]byte{0x04, 0x10}, aaguid[:]...)
		if !bytes.Equal(ext.Value, want) {
			t.Errorf("AAGUID extension value %x, want %x", ext.Value, want)
		}
	}
	if found != 1 {
		t.Errorf("%d AAGUID extensions, want 1", found)
	}
}

func checkNoRevocationURLs(t *testing.T, c *x509.Certificate) {
	t.Helper()
	if len(c.CRLDistributionPoints)+len(c.OCSPServer)+len(c.IssuingCertificateURL) != 0 {
		t.Errorf("certificate %q names network locations: %v %v %v", c.Subject, c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL)
	}
}

func TestInitCACertificates(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	root := ca.Root()
	if !root.IsCA || !root.BasicConstraintsValid || root.CheckSignatureFrom(root) != nil {
		t.Error("root is not a self-signed CA")
	}
	if root.NotAfter.Sub(root.NotBefore) < 10*365*24*3600e9 {
		t.Errorf("root is valid for %v only", root.NotAfter.Sub(root.NotBefore))
	}
	checkNoRevocationURLs(t, root)
	checkAttestationCert(t, ca.AttestationCertificate(), DefaultAAGUID)
	verifyChain(t, root, ca.AttestationCertificate())
	if ca.AAGUID() != DefaultAAGUID {
		t.Errorf("AAGUID %x, want %x", ca.AAGUID(), DefaultAAGUID)
	}
	if !ca.AttestationCertificate().PublicKey.(*ecdsa.PublicKey).Equal(ca.AttestationKey().Public()) {
		t.Error("AttestationKey does not belong to the attestation certificate")
	}
}

func TestInitCAFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attestation")
	ca, err := InitCA(dir, DefaultAAGUID, CAOptions{Organization: "Example Test Vendor", Country: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 6 {
		t.Errorf("%d files in the CA directory, want 6", len(entries))
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if got := ca.AttestationCertificate().Subject; got.Organization[0] != "Example Test Vendor" || got.Country[0] != "DE" {
		t.Errorf("subject %v ignores the options", got)
	}
	loaded, err := LoadCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.RootPEM(), ca.RootPEM()) || loaded.AAGUID() != DefaultAAGUID {
		t.Error("LoadCA returned another CA than InitCA made")
	}
}

func TestInitCARefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	first, err := InitCA(dir, DefaultAAGUID, CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(dir, DefaultAAGUID, CAOptions{}); !errors.Is(err, ErrCAExists) {
		t.Fatalf("second InitCA = %v, want ErrCAExists", err)
	}
	if loaded, err := LoadCA(dir, nil); err != nil || !bytes.Equal(loaded.RootPEM(), first.RootPEM()) {
		t.Fatal("a refused InitCA changed the CA")
	}
	second, err := InitCA(dir, DefaultAAGUID, CAOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(dir, nil)
	if err != nil || !bytes.Equal(loaded.RootPEM(), second.RootPEM()) || bytes.Equal(second.RootPEM(), first.RootPEM()) {
		t.Fatal("InitCA with Force did not replace the CA")
	}
}

func TestLoadCAMissing(t *testing.T) {
	if _, err := LoadCA(t.TempDir(), nil); !errors.Is(err, ErrNoCA) {
		t.Errorf("LoadCA of an empty directory = %v, want ErrNoCA", err)
	}
}

func TestInitCARejectsBadCountry(t *testing.T) {
	if _, err := InitCA(t.TempDir(), DefaultAAGUID, CAOptions{Country: "Germany"}); err == nil {
		t.Error("InitCA accepted a country that is not ISO 3166 alpha-2")
	}
}

// xorProtector is a KeyProtector that is only good for tests.
type xorProtector struct{ opened int }

func (p *xorProtector) Seal(id, b []byte) ([]byte, error) { return xor(id, b), nil }
func (p *xorProtector) Open(id, b []byte) ([]byte, error) {
	p.opened++
	return xor(id, b), nil
}

func xor(id, b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ id[i%len(id)] ^ 0x5a
	}
	return out
}

func TestCAKeyProtector(t *testing.T) {
	dir := t.TempDir()
	p := &xorProtector{}
	ca, err := InitCA(dir, DefaultAAGUID, CAOptions{Protector: p})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "root.key"))
	if strings.Contains(string(key), "BEGIN PRIVATE KEY") {
		t.Error("a protected key was written in plaintext")
	}
	if _, err := LoadCA(dir, nil); err == nil {
		t.Error("LoadCA opened sealed keys without the protector")
	}
	loaded, err := LoadCA(dir, p)
	if err != nil || p.opened != 3 || !bytes.Equal(loaded.RootPEM(), ca.RootPEM()) {
		t.Fatalf("LoadCA with the protector: %v (opened %d keys)", err, p.opened)
	}
}

func TestLoadCARejectsMismatchedKey(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if _, err := InitCA(dir, DefaultAAGUID, CAOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(other, DefaultAAGUID, CAOptions{}); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(other, "attestation.key"))
	if err := os.WriteFile(filepath.Join(dir, "attestation.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(dir, nil); err == nil {
		t.Error("LoadCA accepted a key that does not belong to its certificate")
	}
}
