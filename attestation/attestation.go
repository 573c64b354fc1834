// Package attestation builds attestation statements (WebAuthn §8): none,
// packed (self and x5c), android-key and tpm, and the local attestation CA
// that a developer's test server can trust.
package attestation

import (
	"crypto"

	"github.com/fxamacker/cbor/v2"
)

// Input is what a statement is made over.
type Input struct {
	AuthData       []byte        // complete authenticatorData with attested credential data
	ClientDataHash []byte        // 32 bytes
	CredentialID   []byte        //
	CredentialKey  crypto.Signer // the new credential's key (self attestation signs with it)
	AAGUID         [16]byte      //
}

// Statement is the fmt and attStmt of an attestation object.
type Statement struct {
	Format  string          // "none", "packed", "android-key", "tpm"
	AttStmt cbor.RawMessage // CTAP2-canonical CBOR map
}
