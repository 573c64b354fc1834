package attestation

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Attestation conveyance preferences of a relying party (WebAuthn §5.4.7).
const (
	ConveyanceNone       = "none"
	ConveyanceIndirect   = "indirect"
	ConveyanceDirect     = "direct"
	ConveyanceEnterprise = "enterprise"
)

// ApplyConveyance does what a WebAuthn client does with the attestation
// object an authenticator returned, given the relying party's attestation
// conveyance preference pref (WebAuthn Level 3 §5.1.3 "Create a New
// Credential", step "If credentialCreationData.attestationConveyancePreferenceOption's
// value is ..."). It returns the statement to convey; authData is never
// changed.
//
//   - "none", "", or any unknown value (§5.4.7: a client ignores unknown
//     values, and the member defaults to "none"): if the AAGUID is 16 zero
//     bytes, fmt is "packed" and attStmt has no x5c, this is self
//     attestation and is kept as is; otherwise fmt becomes "none" and
//     attStmt {}. Level 3 no longer zeroes the AAGUID ("aaguid in attested
//     credential data is no longer zeroed when attestation preference is
//     none"), as Level 2 did, so a relying party still learns which
//     provider made the passkey, as it does from Chrome and Android today.
//   - "indirect": the client MAY substitute an anonymised statement;
//     passkeyd's does not, and conveys it unaltered.
//   - "direct", "enterprise": conveyed unaltered.
func ApplyConveyance(pref, format string, attStmt cbor.RawMessage, authData []byte) (Statement, error) {
	kept := Statement{Format: format, AttStmt: attStmt}
	switch pref {
	case ConveyanceIndirect, ConveyanceDirect, ConveyanceEnterprise:
		return kept, nil
	}
	self, err := isSelfAttestation(format, attStmt, authData)
	if err != nil {
		return Statement{}, err
	}
	if self {
		return kept, nil
	}
	return None{}.Attest(Input{})
}

// isSelfAttestation applies the test of WebAuthn §5.1.3 for pref "none":
// zero AAGUID, fmt "packed" and no "x5c" in attStmt.
func isSelfAttestation(format string, attStmt cbor.RawMessage, authData []byte) (bool, error) {
	if len(authData) < credIDOffset || authData[flagsOffset]&flagAT == 0 {
		return false, fmt.Errorf("%w: authenticatorData has no attested credential data", ErrInvalidInput)
	}
	if format != FormatPacked || [16]byte(authData[aaguidOffset:]) != [16]byte{} {
		return false, nil
	}
	var stmt map[string]cbor.RawMessage
	if err := cbor.Unmarshal(attStmt, &stmt); err != nil {
		return false, fmt.Errorf("%w: attStmt: %v", ErrInvalidInput, err)
	}
	_, hasX5C := stmt["x5c"]
	return !hasX5C, nil
}
