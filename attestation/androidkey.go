package attestation

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"
)

// FormatAndroidKey is the identifier of the Android Key attestation
// statement format.
const FormatAndroidKey = "android-key"

// OIDAndroidKeyAttestation is the Android key attestation extension
// (WebAuthn §8.4.1; Android "Key and ID attestation"): its value is the
// DER of a KeyDescription.
var OIDAndroidKeyAttestation = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}

// Values of the Android key attestation schema (KeyMint Tag, KeyPurpose,
// Algorithm, Digest, EcCurve, KeyOrigin, SecurityLevel, VerifiedBootState).
const (
	kmPurposeSign     = 2
	kmAlgorithmEC     = 3
	kmDigestSHA256    = 4
	kmCurveP256       = 1
	kmOriginGenerated = 0

	kmSecurityLevelTEE       = 1
	kmSecurityLevelStrongBox = 2

	kmVerifiedBootVerified = 0

	// KeyMint 3 (Android 14) writes attestation and KeyMint version 300.
	kmVersion = 300
	// Android 14, November 2024 security patch, in the encodings the
	// schema gives: osVersion MMmmpp, osPatchLevel YYYYMM, the others YYYYMMDD.
	kmOSVersion    = 140000
	kmOSPatchLevel = 202411
	kmPatchLevel   = 20241105
)

// AuthorizationList tags (Android key attestation schema: each field is
// [tag] EXPLICIT, and the fields appear in ascending tag order).
const (
	tagPurpose          = 1
	tagAlgorithm        = 2
	tagKeySize          = 3
	tagDigest           = 5
	tagECCurve          = 10
	tagNoAuthRequired   = 503
	tagCreationDateTime = 701
	tagOrigin           = 702
	tagRootOfTrust      = 704
	tagOSVersion        = 705
	tagOSPatchLevel     = 706
	tagAttestationAppID = 709
	tagVendorPatchLevel = 718
	tagBootPatchLevel   = 719
)

// AndroidKey makes android-key attestation (WebAuthn §8.4 "Android Key
// Attestation Statement Format") as an Android keystore would for a
// provider app's passkey: the credential key signs authenticatorData ‖
// clientDataHash, and x5c holds a certificate for the credential public key
// carrying the key attestation extension (challenge = clientDataHash,
// purpose SIGN, origin GENERATED, both enforced by the TEE, and no
// allApplications), issued by the local CA's "Android keystore"
// intermediate. Relying parties verify it against the local root, not
// Google's hardware attestation roots.
type AndroidKey struct {
	CA          *Authority
	StrongBox   bool   // report StrongBox rather than TrustedEnvironment security
	PackageName string // attestationApplicationId package; default "dev.passkeyd.provider"
}

var _ Attester = (*AndroidKey)(nil)

// Format returns "android-key".
func (*AndroidKey) Format() string { return FormatAndroidKey }

// Attest certifies in.CredentialKey and signs in.AuthData ‖
// in.ClientDataHash with it (WebAuthn §8.4 signing procedure).
func (k *AndroidKey) Attest(in Input) (Statement, error) {
	if k.CA == nil {
		return Statement{}, ErrNoCA
	}
	if err := checkInput(in); err != nil {
		return Statement{}, err
	}
	pub, err := checkCredentialKey(in)
	if err != nil {
		return Statement{}, err
	}
	leaf, err := k.credentialCertificate(pub, in.ClientDataHash)
	if err != nil {
		return Statement{}, err
	}
	sig, err := signES256(in.CredentialKey, in.AuthData, in.ClientDataHash)
	if err != nil {
		return Statement{}, err
	}
	return statement(FormatAndroidKey, sigStmt{Alg: algES256, Sig: sig, X5C: [][]byte{leaf, k.CA.android.Raw}})
}

// credentialCertificate issues the x5c leaf of WebAuthn §8.4.1: it
// certifies pub and carries the key description.
func (k *AndroidKey) credentialCertificate(pub *ecdsa.PublicKey, challenge []byte) ([]byte, error) {
	now := time.Now()
	desc, err := k.keyDescription(challenge, now)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to encode the key description: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:         pkix.Name{CommonName: "Android Keystore Key"},
		NotBefore:       now.Add(-clockSkew),
		NotAfter:        k.CA.android.NotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: OIDAndroidKeyAttestation, Value: desc}},
	}
	cert, err := issue(tmpl, pub, k.CA.android, k.CA.androidKey)
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// keyDescription is the KeyDescription SEQUENCE of the Android key
// attestation schema (attestation version 300).
type keyDescription struct {
	AttestationVersion       int
	AttestationSecurityLevel asn1.Enumerated
	KeyMintVersion           int
	KeyMintSecurityLevel     asn1.Enumerated
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         asn1.RawValue
	HardwareEnforced         asn1.RawValue
}

// keyDescription returns the DER of what KeyMint reports for a passkey
// key: hardware-enforced purpose, algorithm, size, curve, digest, origin,
// root of trust and patch levels; software-enforced creation time and the
// calling app. uniqueId is empty, as for any key without INCLUDE_UNIQUE_ID.
func (k *AndroidKey) keyDescription(challenge []byte, now time.Time) ([]byte, error) {
	level := asn1.Enumerated(kmSecurityLevelTEE)
	if k.StrongBox {
		level = kmSecurityLevelStrongBox
	}
	sw, err := k.softwareEnforced(now)
	if err != nil {
		return nil, err
	}
	hw, err := k.hardwareEnforced()
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(keyDescription{
		AttestationVersion:       kmVersion,
		AttestationSecurityLevel: level,
		KeyMintVersion:           kmVersion,
		KeyMintSecurityLevel:     level,
		AttestationChallenge:     challenge,
		UniqueID:                 []byte{},
		SoftwareEnforced:         sw,
		HardwareEnforced:         hw,
	})
}

func (k *AndroidKey) hardwareEnforced() (asn1.RawValue, error) {
	var l authorizationList
	l.add(tagPurpose, []int{kmPurposeSign}, "set")
	l.add(tagAlgorithm, kmAlgorithmEC, "")
	l.add(tagKeySize, 256, "")
	l.add(tagDigest, []int{kmDigestSHA256}, "set")
	l.add(tagECCurve, kmCurveP256, "")
	// passkeyd asks the user itself before every use, so the keystore
	// does not: a key without USER_SECURE_ID reports noAuthRequired.
	l.add(tagNoAuthRequired, asn1.RawValue{Tag: asn1.TagNull}, "")
	l.add(tagOrigin, kmOriginGenerated, "")
	l.add(tagRootOfTrust, k.rootOfTrust(), "")
	l.add(tagOSVersion, kmOSVersion, "")
	l.add(tagOSPatchLevel, kmOSPatchLevel, "")
	l.add(tagVendorPatchLevel, kmPatchLevel, "")
	l.add(tagBootPatchLevel, kmPatchLevel, "")
	return l.sequence()
}

func (k *AndroidKey) softwareEnforced(now time.Time) (asn1.RawValue, error) {
	appID, err := k.applicationID()
	if err != nil {
		return asn1.RawValue{}, err
	}
	var l authorizationList
	l.add(tagCreationDateTime, now.UnixMilli(), "")
	l.add(tagAttestationAppID, appID, "")
	return l.sequence()
}

// rootOfTrust is the RootOfTrust SEQUENCE: a locked device that booted a
// verified image. The boot key and hash are derived from the local root,
// so they are stable for one CA.
type rootOfTrust struct {
	VerifiedBootKey   []byte
	DeviceLocked      bool
	VerifiedBootState asn1.Enumerated
	VerifiedBootHash  []byte
}

func (k *AndroidKey) rootOfTrust() rootOfTrust {
	key := sha256.Sum256(k.CA.root.RawSubjectPublicKeyInfo)
	hash := sha256.Sum256(append([]byte("passkeyd verified boot "), k.CA.root.Raw...))
	return rootOfTrust{VerifiedBootKey: key[:], DeviceLocked: true, VerifiedBootState: kmVerifiedBootVerified, VerifiedBootHash: hash[:]}
}

// attestationApplicationID is the AttestationApplicationId SEQUENCE: the
// package of the app that owns the key and its signing certificate digest.
type attestationApplicationID struct {
	PackageInfos     []packageInfo `asn1:"set"`
	SignatureDigests [][]byte      `asn1:"set"`
}

type packageInfo struct {
	PackageName []byte
	Version     int
}

func (k *AndroidKey) applicationID() ([]byte, error) {
	name := k.PackageName
	if name == "" {
		name = "dev.passkeyd.provider"
	}
	digest := sha256.Sum256(k.CA.root.Raw)
	return asn1.Marshal(attestationApplicationID{
		PackageInfos:     []packageInfo{{PackageName: []byte(name), Version: 1}},
		SignatureDigests: [][]byte{digest[:]},
	})
}

// authorizationList builds an AuthorizationList SEQUENCE, each field
// wrapped in its [tag] EXPLICIT context tag. Callers add fields in
// ascending tag order, as the schema lists them.
type authorizationList struct {
	fields []byte
	err    error
}

func (l *authorizationList) add(tag int, v any, params string) {
	if l.err != nil {
		return
	}
	inner, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		l.err = fmt.Errorf("tag %d: %w", tag, err)
		return
	}
	field, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: inner})
	if err != nil {
		l.err = fmt.Errorf("tag %d: %w", tag, err)
		return
	}
	l.fields = append(l.fields, field...)
}

func (l *authorizationList) sequence() (asn1.RawValue, error) {
	if l.err != nil {
		return asn1.RawValue{}, l.err
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: l.fields})
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{FullBytes: der}, nil
}
