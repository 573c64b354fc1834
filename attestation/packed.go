package attestation

import "fmt"

// FormatPacked is the identifier of the packed attestation statement format.
const FormatPacked = "packed"

// sigStmt is the attStmt of packed (WebAuthn §8.2) and android-key (§8.4):
// alg, sig and, but for self attestation, x5c. The keys are all three bytes
// long, so CTAP2 canonical order is alg, sig, x5c.
type sigStmt struct {
	Alg int      `cbor:"alg"`
	Sig []byte   `cbor:"sig"`
	X5C [][]byte `cbor:"x5c,omitempty"`
}

// PackedSelf makes packed self attestation (WebAuthn §8.2, "If self
// attestation is in use"; §6.5.3 Self Attestation): the credential private
// key signs authenticatorData ‖ clientDataHash, alg is -7 (ES256), and there
// is no x5c. Relying parties learn nothing about the provider from it.
type PackedSelf struct{}

var _ Attester = PackedSelf{}

// Format returns "packed".
func (PackedSelf) Format() string { return FormatPacked }

// Attest signs in.AuthData ‖ in.ClientDataHash with in.CredentialKey
// (WebAuthn §8.2 signing procedure, self attestation).
func (PackedSelf) Attest(in Input) (Statement, error) {
	if err := checkInput(in); err != nil {
		return Statement{}, err
	}
	if _, err := checkCredentialKey(in); err != nil {
		return Statement{}, err
	}
	sig, err := signES256(in.CredentialKey, in.AuthData, in.ClientDataHash)
	if err != nil {
		return Statement{}, err
	}
	return statement(FormatPacked, sigStmt{Alg: algES256, Sig: sig})
}

// PackedBasic makes packed basic attestation (WebAuthn §8.2, "If Basic or
// AttCA attestation is in use"; §6.5.3 Basic Attestation): the attestation
// key of the local CA signs authenticatorData ‖ clientDataHash, and x5c
// carries the attestation certificate, which meets §8.2.1 and names the
// AAGUID of the credential. Relying parties that trust the CA's root (see
// [Authority.RootPEM]) can verify it.
type PackedBasic struct {
	CA *Authority
}

var _ Attester = (*PackedBasic)(nil)

// Format returns "packed".
func (*PackedBasic) Format() string { return FormatPacked }

// Attest signs in.AuthData ‖ in.ClientDataHash with the attestation key and
// conveys the certificate chain for in.AAGUID (WebAuthn §8.2).
func (p *PackedBasic) Attest(in Input) (Statement, error) {
	if p.CA == nil {
		return Statement{}, ErrNoCA
	}
	if err := checkInput(in); err != nil {
		return Statement{}, err
	}
	chain, err := p.CA.AttestationChain(in.AAGUID)
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: packed: %w", err)
	}
	sig, err := signES256(p.CA.AttestationKey(), in.AuthData, in.ClientDataHash)
	if err != nil {
		return Statement{}, err
	}
	return statement(FormatPacked, sigStmt{Alg: algES256, Sig: sig, X5C: chain})
}
