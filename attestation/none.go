package attestation

// FormatNone is the identifier of the none attestation statement format.
const FormatNone = "none"

// emptyMap is the CTAP2 canonical encoding of an empty CBOR map, the only
// valid attStmt of the none format.
var emptyMap = []byte{0xa0}

// None makes no attestation (WebAuthn §8.7 "None Attestation Statement
// Format"): fmt "none" with an empty attStmt. It is what synced providers
// such as Google Password Manager return, and what a WebAuthn client turns
// any statement into when the relying party asks for none (see
// [ApplyConveyance]).
type None struct{}

var _ Attester = None{}

// Format returns "none".
func (None) Format() string { return FormatNone }

// Attest returns fmt "none" and attStmt {} (WebAuthn §8.7).
func (None) Attest(Input) (Statement, error) {
	return Statement{Format: FormatNone, AttStmt: append([]byte(nil), emptyMap...)}, nil
}
