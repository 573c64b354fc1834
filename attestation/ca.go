package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The files of a local attestation CA, all mode 0600 in a 0700 directory.
const (
	rootCertFile    = "root.pem"
	rootKeyFile     = "root.key"
	attCertFile     = "attestation.pem"
	attKeyFile      = "attestation.key"
	androidCertFile = "android-keystore.pem"
	androidKeyFile  = "android-keystore.key"
)

// PEM block types of private keys: PKCS#8 as is, or sealed by a KeyProtector.
const (
	pemPlainKey  = "PRIVATE KEY"
	pemSealedKey = "PASSKEYD SEALED PRIVATE KEY"
)

// Validity periods. Relying parties check that every certificate is valid
// now (WebAuthn §8.2 via RFC 5280 path validation), so they are long, and
// NotBefore lies an hour back to absorb clock skew.
const (
	rootValidity = 20 * 365 * 24 * time.Hour
	certValidity = 15 * 365 * 24 * time.Hour
	clockSkew    = time.Hour
)

// OUAttestation is the Subject-OU WebAuthn §8.2.1 requires, literally, in a
// packed attestation certificate.
const OUAttestation = "Authenticator Attestation"

// OIDFIDOGenCeAAGUID is id-fido-gen-ce-aaguid (WebAuthn §8.2.1): the
// non-critical certificate extension whose value is an OCTET STRING holding
// the 16-byte AAGUID.
var OIDFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// KeyProtector seals the CA's private keys at rest. A keystore sealer
// (Seal and Open bound to an ID) fits it; id names the key file.
type KeyProtector interface {
	Seal(id, plaintext []byte) ([]byte, error)
	Open(id, sealed []byte) ([]byte, error)
}

// CAOptions tune InitCA. The zero value is a CA for the vendor "passkeyd".
type CAOptions struct {
	Country      string       // Subject-C, ISO 3166 alpha-2; default "US"
	Organization string       // Subject-O, the vendor; default "passkeyd"
	CommonName   string       // Subject-CN of the attestation certificate; default "passkeyd software passkey provider"
	Force        bool         // replace an existing CA instead of failing with ErrCAExists
	Protector    KeyProtector // seals the private keys; nil writes them as PKCS#8 PEM, mode 0600
}

func (o CAOptions) withDefaults() (CAOptions, error) {
	if o.Country == "" {
		o.Country = "US"
	}
	if o.Organization == "" {
		o.Organization = "passkeyd"
	}
	if o.CommonName == "" {
		o.CommonName = "passkeyd software passkey provider"
	}
	if len(o.Country) != 2 || o.Country[0] < 'A' || o.Country[0] > 'Z' || o.Country[1] < 'A' || o.Country[1] > 'Z' {
		return o, fmt.Errorf("attestation: country %q is not an ISO 3166 alpha-2 code", o.Country)
	}
	return o, nil
}

// Authority is the local attestation CA that developers' test servers can
// trust: a self-signed P-256 root, the packed attestation certificate and
// key it issued (WebAuthn §8.2.1), and an "Android keystore" intermediate
// that issues android-key credential certificates (§8.4.1). It also issues
// TPM AIK certificates (§8.3.1). It is safe for concurrent use.
type Authority struct {
	root, att, android          *x509.Certificate
	rootKey, attKey, androidKey *ecdsa.PrivateKey

	mu     sync.Mutex
	chains map[[16]byte][]byte // attestation certificates by AAGUID
}

// InitCA creates a local attestation CA in dir (made 0700): a root CA, and
// an attestation certificate for aaguid with its key. It fails with
// ErrCAExists if dir already holds one, unless opts.Force is set.
func InitCA(dir string, aaguid [16]byte, opts CAOptions) (*Authority, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if !opts.Force && caExists(dir) {
		return nil, fmt.Errorf("%w in %s", ErrCAExists, dir)
	}
	a, err := newAuthority(aaguid, opts, time.Now())
	if err != nil {
		return nil, err
	}
	if err := a.save(dir, opts.Protector); err != nil {
		return nil, err
	}
	return a, nil
}

func caExists(dir string) bool {
	for _, name := range []string{rootCertFile, rootKeyFile, attCertFile, attKeyFile, androidCertFile, androidKeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

func newAuthority(aaguid [16]byte, o CAOptions, now time.Time) (*Authority, error) {
	a := &Authority{chains: map[[16]byte][]byte{}}
	var err error
	if a.rootKey, err = newKey(); err != nil {
		return nil, err
	}
	rootTmpl := rootTemplate(o, now)
	if a.root, err = issue(rootTmpl, &a.rootKey.PublicKey, rootTmpl, a.rootKey); err != nil {
		return nil, err
	}
	if a.attKey, err = newKey(); err != nil {
		return nil, err
	}
	if a.att, err = issue(attestationTemplate(o, aaguid, now), &a.attKey.PublicKey, a.root, a.rootKey); err != nil {
		return nil, err
	}
	if a.androidKey, err = newKey(); err != nil {
		return nil, err
	}
	if a.android, err = issue(androidCATemplate(o, now), &a.androidKey.PublicKey, a.root, a.rootKey); err != nil {
		return nil, err
	}
	a.chains[aaguid] = a.att.Raw
	return a, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to generate a key: %w", err)
	}
	return k, nil
}

// issue signs tmpl for pub with parent's key and parses the result.
func issue(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to draw a serial number: %w", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to issue %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// rootTemplate is a self-signed P-256 CA. It names no CRL or OCSP location:
// relying parties must not need the network to check passkeyd's chain.
func rootTemplate(o CAOptions, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{
			Country:      []string{o.Country},
			Organization: []string{o.Organization},
			CommonName:   o.Organization + " local attestation root CA",
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(rootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
}

// attestationTemplate meets the packed attestation certificate requirements
// of WebAuthn §8.2.1: version 3 (x509 always writes v3); Subject C, O,
// OU "Authenticator Attestation" and CN; the id-fido-gen-ce-aaguid
// extension, not critical; basic constraints CA=false (x509 marks them
// critical); no CRL distribution point or OCSP responder.
func attestationTemplate(o CAOptions, aaguid [16]byte, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{
			Country:            []string{o.Country},
			Organization:       []string{o.Organization},
			OrganizationalUnit: []string{OUAttestation},
			CommonName:         o.CommonName,
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{aaguidExtension(aaguid)},
	}
}

// androidCATemplate is the local stand-in for the Android keystore's
// attestation batch certificate, the issuer of android-key credential
// certificates (WebAuthn §8.4; Android "Key and ID attestation").
func androidCATemplate(o CAOptions, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{
			Organization:       []string{o.Organization},
			OrganizationalUnit: []string{"Android Keystore"},
			CommonName:         o.Organization + " Android keystore attestation CA",
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
}

// aaguidExtension is id-fido-gen-ce-aaguid: the extnValue OCTET STRING
// wraps the DER of an OCTET STRING holding the AAGUID (WebAuthn §8.2.1).
func aaguidExtension(aaguid [16]byte) pkix.Extension {
	value, _ := asn1.Marshal(aaguid[:]) // a byte slice always marshals
	return pkix.Extension{Id: OIDFIDOGenCeAAGUID, Critical: false, Value: value}
}

// certAAGUID returns the AAGUID of cert's id-fido-gen-ce-aaguid extension.
func certAAGUID(cert *x509.Certificate) (aaguid [16]byte, ok bool) {
	for _, ext := range cert.Extensions {
		var b []byte
		if !ext.Id.Equal(OIDFIDOGenCeAAGUID) {
			continue
		}
		if rest, err := asn1.Unmarshal(ext.Value, &b); err != nil || len(rest) != 0 || len(b) != 16 {
			return aaguid, false
		}
		return [16]byte(b), true
	}
	return aaguid, false
}

// Root returns the root CA certificate, the trust anchor relying parties
// configure (WebAuthn §13.4.3 "Attestation Certificate Hierarchy").
func (a *Authority) Root() *x509.Certificate { return a.root }

// RootPEM returns the root CA certificate in PEM, as `passkeyd attestation
// export` prints it.
func (a *Authority) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.root.Raw})
}

// AttestationKey returns the packed attestation private key (WebAuthn §6.5.3
// Basic Attestation). It never leaves the process.
func (a *Authority) AttestationKey() crypto.Signer { return a.attKey }

// AttestationCertificate returns the attestation certificate made by InitCA.
func (a *Authority) AttestationCertificate() *x509.Certificate { return a.att }

// AAGUID returns the AAGUID named by the certificate made by InitCA.
func (a *Authority) AAGUID() [16]byte {
	aaguid, _ := certAAGUID(a.att)
	return aaguid
}

// AttestationChain returns the packed x5c for aaguid (WebAuthn §8.2): the
// DER attestation certificate, then intermediates (none: the root issues
// it directly); the root is left out, as relying parties hold it. For an
// AAGUID other than the one given to InitCA, a certificate for the same
// attestation key is issued and kept in memory, so an overridden AAGUID
// still matches its certificate's extension.
func (a *Authority) AttestationChain(aaguid [16]byte) ([][]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if der, ok := a.chains[aaguid]; ok {
		return [][]byte{der}, nil
	}
	o := CAOptions{
		Country:      first(a.att.Subject.Country),
		Organization: first(a.att.Subject.Organization),
		CommonName:   a.att.Subject.CommonName,
	}
	cert, err := issue(attestationTemplate(o, aaguid, time.Now()), &a.attKey.PublicKey, a.root, a.rootKey)
	if err != nil {
		return nil, err
	}
	a.chains[aaguid] = cert.Raw
	return [][]byte{cert.Raw}, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
