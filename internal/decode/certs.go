package decode

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/credman"
)

// Certificate is one decoded x5c certificate.
type Certificate struct {
	Index     int       `json:"index"`
	Length    int       `json:"length"`
	Subject   string    `json:"subject,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	Serial    string    `json:"serial,omitempty"` // hex
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// BasicConstraints is "CA", "CA, pathlen N", "not a CA", or "" when the
	// extension is absent.
	BasicConstraints string `json:"basicConstraints,omitempty"`
	// AAGUID is the FIDO id-fido-gen-ce-aaguid extension
	// (1.3.6.1.4.1.45724.1.1.4), when present.
	AAGUID                string `json:"aaguid,omitempty"`
	AAGUIDMatchesAuthData *bool  `json:"aaguidMatchesAuthData,omitempty"`
	// AndroidKey summarizes the Android key attestation extension
	// (1.3.6.1.4.1.11129.2.1.17), when present.
	AndroidKey *AndroidKeyDescription `json:"androidKey,omitempty"`
	// Error says why the certificate could not be parsed; the other fields
	// are then empty.
	Error string `json:"error,omitempty"`
}

// parseCertificate decodes one DER certificate. A certificate that does
// not parse is reported in Error rather than failing the whole decoding:
// the rest of the response still helps.
func parseCertificate(der []byte, i int) Certificate {
	c := Certificate{Index: i, Length: len(der)}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.Subject, c.Issuer = cert.Subject.String(), cert.Issuer.String()
	c.Serial = hex.EncodeToString(cert.SerialNumber.Bytes())
	c.NotBefore, c.NotAfter = cert.NotBefore.UTC(), cert.NotAfter.UTC()
	c.BasicConstraints = basicConstraints(cert)
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(attestation.OIDFIDOGenCeAAGUID):
			c.AAGUID = extensionAAGUID(ext.Value)
		case ext.Id.Equal(attestation.OIDAndroidKeyAttestation):
			c.AndroidKey = parseKeyDescription(ext.Value)
		}
	}
	return c
}

func basicConstraints(cert *x509.Certificate) string {
	switch {
	case !cert.BasicConstraintsValid:
		return ""
	case !cert.IsCA:
		return "not a CA"
	case cert.MaxPathLen > 0 || cert.MaxPathLenZero:
		return fmt.Sprintf("CA, pathlen %d", cert.MaxPathLen)
	}
	return "CA"
}

// extensionAAGUID reads the extension's OCTET STRING of 16 bytes (WebAuthn
// §8.2.1).
func extensionAAGUID(v []byte) string {
	var b []byte
	if rest, err := asn1.Unmarshal(v, &b); err != nil || len(rest) != 0 || len(b) != 16 {
		return fmt.Sprintf("invalid (%d bytes; an OCTET STRING of 16 bytes expected)", len(v))
	}
	return formatUUID(b)
}

// AndroidKeyDescription summarizes the KeyDescription of Android key
// attestation (WebAuthn §8.4.1).
type AndroidKeyDescription struct {
	AttestationVersion int64         `json:"attestationVersion"`
	SecurityLevel      string        `json:"attestationSecurityLevel"`
	KeymasterVersion   int64         `json:"keymasterVersion"`
	KeymasterLevel     string        `json:"keymasterSecurityLevel"`
	Challenge          credman.Bytes `json:"attestationChallenge"`
	// ChallengeMatches says whether the challenge is the SHA-256 of the
	// clientDataJSON, when that is known.
	ChallengeMatches *bool  `json:"challengeMatchesClientData,omitempty"`
	Error            string `json:"error,omitempty"`
}

var securityLevels = map[int64]string{0: "Software", 1: "TrustedEnvironment", 2: "StrongBox"}

// parseKeyDescription reads the first five fields of KeyDescription. The
// security levels are ENUMERATED in the schema but some encoders write
// INTEGER; both are read.
func parseKeyDescription(v []byte) *AndroidKeyDescription {
	k := &AndroidKeyDescription{}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(v, &seq); err != nil || seq.Tag != asn1.TagSequence {
		k.Error = "the extension is not a KeyDescription SEQUENCE"
		return k
	}
	var fields [5]asn1.RawValue
	rest := seq.Bytes
	for i := range fields {
		var err error
		if rest, err = asn1.Unmarshal(rest, &fields[i]); err != nil {
			k.Error = fmt.Sprintf("KeyDescription field %d: %v", i+1, err)
			return k
		}
	}
	k.AttestationVersion, k.KeymasterVersion = derInt(fields[0]), derInt(fields[2])
	k.SecurityLevel, k.KeymasterLevel = securityLevel(fields[1]), securityLevel(fields[3])
	k.Challenge = fields[4].Bytes
	return k
}

// derInt reads a small INTEGER or ENUMERATED, or -1.
func derInt(v asn1.RawValue) int64 {
	if v.Class != asn1.ClassUniversal || (v.Tag != asn1.TagInteger && v.Tag != asn1.TagEnum) || len(v.Bytes) == 0 || len(v.Bytes) > 8 {
		return -1
	}
	n := int64(int8(v.Bytes[0]))
	for _, b := range v.Bytes[1:] {
		n = n<<8 | int64(b)
	}
	return n
}

func securityLevel(v asn1.RawValue) string {
	n := derInt(v)
	if s, ok := securityLevels[n]; ok {
		return s
	}
	return fmt.Sprintf("unknown (%d)", n)
}
