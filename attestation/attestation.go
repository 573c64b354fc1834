// Package attestation builds attestation statements (WebAuthn §8): none,
// packed (self and x5c), android-key and tpm, and the local attestation CA
// that a developer's test server can trust.
//
// # Formats
//
// Each format is an [Attester] that turns an [Input] (authenticatorData,
// clientDataHash and the new credential's key) into a [Statement] whose
// attStmt is CTAP2-canonical CBOR: [None] (§8.7), [PackedSelf] and
// [PackedBasic] (§8.2), [AndroidKey] (§8.4) and [TPM] (§8.3). [New] picks
// one by name, as the --attestation flag spells it.
//
// # The local attestation CA
//
// [InitCA] creates a root CA, a packed attestation certificate meeting
// §8.2.1, and an "Android keystore" intermediate in a state directory;
// [LoadCA] reads them back and [Authority.RootPEM] exports the root, the
// one trust anchor a relying party needs for every format here. The CA also
// issues TPM AIK certificates ([Authority.IssueAIKCertificate], §8.3.1).
// Nothing it issues names a CRL or OCSP location.
//
// # Conveyance and profiles
//
// [ApplyConveyance] does what a WebAuthn client does with the statement
// when the relying party asked for "none" (§5.1.3). A [Profile]
// ([ProfileByName]) sets the AAGUID, format, backup flags and counter mode
// of a provider together: "device-bound" like Microsoft Authenticator,
// "synced" like Google Password Manager; passkeyd's own [DefaultAAGUID]
// is the default.
package attestation

import (
	"crypto"

	"github.com/fxamacker/cbor/v2"
)

// Input is what a statement is made over (WebAuthn §6.5.4 "Generating an
// Attestation Object": authenticatorData and the hash of the client data).
type Input struct {
	AuthData       []byte        // complete authenticatorData with attested credential data
	ClientDataHash []byte        // 32 bytes
	CredentialID   []byte        //
	CredentialKey  crypto.Signer // the new credential's key (self attestation signs with it)
	AAGUID         [16]byte      //
}

// Statement is the fmt and attStmt of an attestation object (WebAuthn §6.5.4).
type Statement struct {
	Format  string          // "none", "packed", "android-key", "tpm"
	AttStmt cbor.RawMessage // CTAP2-canonical CBOR map
}
