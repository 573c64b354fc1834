// Package decode explains WebAuthn data to a developer whose server rejected
// it: [Decode] takes an attestationObject, an authenticatorData, a
// clientDataJSON, or a whole RegistrationResponseJSON or
// AuthenticationResponseJSON, works out which one it is and how it is
// encoded, and returns every field decoded, with warnings for the mistakes
// relying parties reject.
//
// # Inputs
//
// Binary parts may be given as base64url or base64 (padded or not), as hex,
// or as raw bytes; JSON may be given as is, as a string that holds it (as
// Android's Credential Manager passes it), wrapped as
// {"registrationResponseJson": …} or {"authenticationResponseJson": …} (as
// passkeyd's api.sock answers), or base64-encoded.
//
// # Strictness
//
// authenticatorData is read as WebAuthn §6.1 lays it out, and every error
// names the byte where it went wrong. attestationObject CBOR need not be
// CTAP2-canonical, but duplicate keys, indefinite lengths, tags and
// trailing bytes are refused. Anything that decodes but that a relying party
// would likely refuse (a wrong clientDataJSON type, an insecure origin, a COSE
// key without crv, a raw r‖s signature, RFU flag bits) is a warning, not an
// error, so that the rest can still be shown.
//
// The package never prints: cmd/passkeyd renders a [Result] for people or
// as JSON.
package decode
