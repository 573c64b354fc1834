package attestation

import "errors"

// Errors a caller can branch on with errors.Is. Their text is written for
// the person running passkeyd: the CLI may show it as is.
var (
	// ErrNoCA means the format needs the local attestation CA and none was
	// given or found: the user has to create it first.
	ErrNoCA = errors.New("attestation: no local attestation CA; run `passkeyd attestation init`")

	// ErrCAExists means InitCA found an attestation CA already in the
	// directory and was not told to replace it.
	ErrCAExists = errors.New("attestation: an attestation CA already exists (use --force to replace it)")

	// ErrUnknownFormat means New was given a format name it does not know.
	ErrUnknownFormat = errors.New("attestation: unknown attestation format")

	// ErrUnknownProfile means ProfileByName was given a name it does not know.
	ErrUnknownProfile = errors.New("attestation: unknown provider profile")

	// ErrNoTPM means the tpm format was asked for without a TPM backend.
	ErrNoTPM = errors.New("attestation: the tpm format needs the TPM key backend")

	// ErrInvalidInput means an Input cannot be attested: a malformed
	// authenticatorData or clientDataHash, or a credential key that is not
	// the one authenticatorData carries. It is a bug in the caller.
	ErrInvalidInput = errors.New("attestation: invalid input")
)
