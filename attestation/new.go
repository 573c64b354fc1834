package attestation

import (
	"fmt"
	"strings"
)

// Attester makes the attestation statement of a new credential. It has
// the shape of provider.Attester, which every format here satisfies.
type Attester interface {
	Attest(in Input) (Statement, error)
	// Format is the statement format identifier (WebAuthn §8), as GetInfo
	// lists it in attestationFormats.
	Format() string
}

// Names New takes besides the format identifiers FormatNone, FormatPacked,
// FormatAndroidKey and FormatTPM.
const (
	// NamePackedSelf is packed self attestation even with a CA at hand.
	NamePackedSelf = "packed-self"
	// NamePackedX5C is packed basic attestation, which needs the CA.
	NamePackedX5C = "packed-x5c"
)

// Deps is what some formats need: the local attestation CA (nil when
// `passkeyd attestation init` has not been run) and the TPM backend.
type Deps struct {
	CA  *Authority
	TPM TPMCertifier
}

// Names lists the names New accepts, for usage messages.
func Names() []string {
	return []string{FormatNone, FormatPacked, NamePackedSelf, NamePackedX5C, FormatAndroidKey, FormatTPM}
}

// New returns the Attester called name:
//   - "none": [None];
//   - "packed": [PackedBasic] if deps.CA is set, else [PackedSelf];
//   - "packed-self": [PackedSelf]; "packed-x5c": [PackedBasic];
//   - "android-key": [AndroidKey]; "tpm": [TPM].
//
// It fails with ErrUnknownFormat for any other name, ErrNoCA when the
// format needs the CA and deps has none, and ErrNoTPM for tpm without a
// TPM backend.
func New(name string, deps Deps) (Attester, error) {
	switch name {
	case FormatNone:
		return None{}, nil
	case NamePackedSelf:
		return PackedSelf{}, nil
	case FormatPacked:
		if deps.CA == nil {
			return PackedSelf{}, nil
		}
		return &PackedBasic{CA: deps.CA}, nil
	}
	if !knownName(name) {
		return nil, fmt.Errorf("%w %q (choose one of: %s)", ErrUnknownFormat, name, strings.Join(Names(), ", "))
	}
	if deps.CA == nil {
		return nil, fmt.Errorf("%w (the %s format needs it)", ErrNoCA, name)
	}
	switch name {
	case NamePackedX5C:
		return &PackedBasic{CA: deps.CA}, nil
	case FormatAndroidKey:
		return &AndroidKey{CA: deps.CA}, nil
	}
	if deps.TPM == nil {
		return nil, ErrNoTPM
	}
	return &TPM{CA: deps.CA, Certifier: deps.TPM}, nil
}

func knownName(name string) bool {
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}
