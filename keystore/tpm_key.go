package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// tpmBlobV1 is the first byte of every blob this backend writes:
// 0x01 || TPM2B_PUBLIC || TPM2B_PRIVATE, each with its 2-byte size.
const tpmBlobV1 = 0x01

// tpmKey is a TPM object as its wrapped blobs, not loaded.
type tpmKey struct {
	pub    tpm2.TPM2BPublic
	priv   tpm2.TPM2BPrivate
	public *ecdsa.PublicKey // nil for the sealed data key
}

// credentialPolicy is the authPolicy of a credential key: an HMAC of its
// credential ID under the data key, which binds the key to that ID and to
// this state directory. authPolicy is part of the public area, hence of the
// object's Name, which the integrity HMAC of the private blob covers: it
// cannot be edited without TPM2_Load failing, and Signer compares it with
// the ID it is given. No policy session ever satisfies it (nobody uses the
// policy path: userWithAuth is set). The key has an empty auth value rather
// than one derived from the ID: a credential ID is not secret (relying
// parties send it in allowList), so such a password would add no secrecy.
// The caller holds s.mu.
func (s *TPMSealer) credentialPolicy(credID []byte) []byte {
	m := hmac.New(sha256.New, s.policyKey)
	m.Write([]byte("passkeyd TPM credential key v1\x00"))
	m.Write(credID)
	return m.Sum(nil)
}

// credentialTemplate is the public template of a credential key: ECDSA
// P-256 with SHA-256, non-duplicable, generated inside the TPM, and exempt
// from dictionary-attack lockout so that another program's wrong passwords
// cannot lock passkeyd out.
func credentialTemplate(policy []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			SignEncrypt:         true,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    ecdsaSHA256Scheme(),
			CurveID:   tpm2.TPMECCNistP256,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

func ecdsaSHA256Scheme() tpm2.TPMTECCScheme {
	return tpm2.TPMTECCScheme{
		Scheme:  tpm2.TPMAlgECDSA,
		Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
	}
}

// createCredentialKey runs TPM2_Create under the SRK. The caller holds s.mu.
func (s *TPMSealer) createCredentialKey(credID []byte) (*tpmKey, error) {
	policy := s.credentialPolicy(credID)
	rsp, err := (tpm2.Create{
		ParentHandle: s.srk,
		InPublic:     tpm2.New2B(credentialTemplate(policy)),
	}).Execute(s.tpm)
	if err != nil {
		return nil, tpmError("TPM2_Create(credential key)", err)
	}
	return newCredentialKey(policy, rsp.OutPublic.Bytes(), rsp.OutPrivate.Buffer)
}

// encode returns the blob: version || TPM2B_PUBLIC || TPM2B_PRIVATE.
func (k *tpmKey) encode() []byte {
	b := []byte{tpmBlobV1}
	b = append(b, tpm2.Marshal(k.pub)...)
	return append(b, tpm2.Marshal(k.priv)...)
}

// splitTPMBlob undoes encode without interpreting the parts.
func splitTPMBlob(blob []byte) (pub, priv []byte, ok bool) {
	s := cryptobyte.String(blob)
	var version uint8
	var p, q cryptobyte.String
	if !s.ReadUint8(&version) || version != tpmBlobV1 ||
		!s.ReadUint16LengthPrefixed(&p) || !s.ReadUint16LengthPrefixed(&q) || !s.Empty() ||
		len(p) == 0 || len(q) == 0 {
		return nil, nil, false
	}
	return bytes.Clone(p), bytes.Clone(q), true
}

// decodeCredentialKey parses a credential key blob and checks that it was
// made for credID, before the TPM sees it. The caller holds s.mu.
func (s *TPMSealer) decodeCredentialKey(credID, blob []byte) (*tpmKey, error) {
	pub, priv, ok := splitTPMBlob(blob)
	if !ok {
		return nil, fmt.Errorf("%w: not a TPM key blob", ErrSealedData)
	}
	return newCredentialKey(s.credentialPolicy(credID), pub, priv)
}

// newCredentialKey checks that a public area is exactly a credential
// template (made or imported) with this policy apart from the key itself,
// and extracts the key.
func newCredentialKey(policy, pubArea, priv []byte) (*tpmKey, error) {
	k := &tpmKey{pub: tpm2.BytesAs2B[tpm2.TPMTPublic](pubArea), priv: tpm2.TPM2BPrivate{Buffer: priv}}
	pub, err := k.pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: bad TPM public area: %v", ErrSealedData, err)
	}
	point, err := pub.Unique.ECC()
	if err != nil || pub.Type != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("%w: not a TPM ECC key", ErrSealedData)
	}
	if !isCredentialPublicArea(policy, point, pubArea) {
		return nil, fmt.Errorf("%w: the TPM key was made for another credential or state directory", ErrSealedData)
	}
	if k.public, err = eccPublicKey(pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSealedData, err)
	}
	return k, nil
}

// isCredentialPublicArea reports whether pubArea is the template of a key
// made by NewKey or brought in by ImportKey, with this policy and point.
func isCredentialPublicArea(policy []byte, point *tpm2.TPMSECCPoint, pubArea []byte) bool {
	for _, template := range []func([]byte) tpm2.TPMTPublic{credentialTemplate, importedCredentialTemplate} {
		want := template(policy)
		want.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, point)
		if bytes.Equal(tpm2.Marshal(want), pubArea) {
			return true
		}
	}
	return false
}

// eccPublicKey converts the unique field of a P-256 public area.
func eccPublicKey(pub *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	pt, err := pub.Unique.ECC()
	if err != nil {
		return nil, err
	}
	x, y := pt.X.Buffer, pt.Y.Buffer
	if len(x) > 32 || len(y) > 32 {
		return nil, errors.New("bad P-256 point")
	}
	point := make([]byte, 65)
	point[0] = 4
	copy(point[33-len(x):33], x)
	copy(point[65-len(y):], y)
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

// errTPMRefused is what TPM2_Load's integrity check failing means.
var errTPMRefused = fmt.Errorf("%w: the TPM refused it: it is damaged, "+
	"or was sealed by another TPM or before this one was cleared", ErrSealedData)

// load runs fn with k loaded under the SRK and flushes it afterwards. The
// caller holds s.mu.
func (s *TPMSealer) load(k *tpmKey, fn func(tpm2.NamedHandle) error) error {
	rsp, err := (tpm2.Load{ParentHandle: s.srk, InPublic: k.pub, InPrivate: k.priv}).Execute(s.tpm)
	if errors.Is(err, tpm2.TPMRCIntegrity) {
		return errTPMRefused
	}
	if err != nil {
		return tpmError("TPM2_Load", err)
	}
	h := tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	err = fn(h)
	return errors.Join(err, s.flush(h.Handle))
}

// signDigest runs TPM2_Sign with ECDSA-SHA256 and returns ASN.1 DER. The
// caller holds s.mu.
func (s *TPMSealer) signDigest(key tpm2.NamedHandle, digest []byte) ([]byte, error) {
	rsp, err := (tpm2.Sign{
		KeyHandle: key,
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}).Execute(s.tpm)
	if err != nil {
		return nil, tpmError("TPM2_Sign", err)
	}
	return ecdsaDER(&rsp.Signature)
}

// ecdsaDER turns a TPMT_SIGNATURE into the form ecdsa.SignASN1 returns.
func ecdsaDER(sig *tpm2.TPMTSignature) ([]byte, error) {
	e, err := sig.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("keystore: the TPM returned no ECDSA signature: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(e.SignatureR.Buffer))
		b.AddASN1BigInt(new(big.Int).SetBytes(e.SignatureS.Buffer))
	})
	return b.Bytes()
}

// tpmSigner signs with a credential key inside the TPM. It holds only the
// wrapped blobs; each Sign loads, signs and flushes.
type tpmSigner struct {
	s   *TPMSealer
	key *tpmKey
}

// Public returns the credential's *ecdsa.PublicKey.
func (g *tpmSigner) Public() crypto.PublicKey { return g.key.public }

// Sign signs a SHA-256 digest inside the TPM and returns an ASN.1 DER
// ECDSA signature. rand is unused: the TPM draws the nonce.
func (g *tpmSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if len(digest) != sha256.Size || (opts != nil && opts.HashFunc() != crypto.SHA256) {
		return nil, errors.New("keystore: a TPM credential key signs SHA-256 digests only")
	}
	var sig []byte
	err := g.s.locked(func() error {
		return g.s.load(g.key, func(h tpm2.NamedHandle) (err error) {
			sig, err = g.s.signDigest(h, digest)
			return err
		})
	})
	return sig, err
}
