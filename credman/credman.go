// Package credman is the Credential Manager front door: WebAuthn JSON in the
// shape of Android's credential provider API (requestJson, the calling
// origin, an optional clientDataHash from a privileged caller), answered by
// the provider, JSON out (registrationResponseJson, authenticationResponseJson).
//
// # Phases
//
// As on Android, a request can go in two phases: BeginCreate and BeginGet
// list entries (where a passkey would be saved, which passkeys match)
// without asking the user; Create and Get complete one, and ask. Create and
// Get can also be called directly.
//
// # Checks
//
// credman makes the checks a WebAuthn client makes before an authenticator
// is involved: the origin is secure, the rpId is the origin's host or a
// registrable suffix of it and not a public suffix, a challenge is present,
// ES256 is acceptable. Each refusal is an [*Error] with a stable code.
package credman

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/provider"
)

// Service answers Credential Manager requests with a provider.
type Service struct {
	p *provider.Provider
}

// New returns a Service in front of p.
func New(p *provider.Provider) *Service { return &Service{p: p} }

// CreateRequest is a passkey registration (Android: CreatePublicKeyCredentialRequest).
type CreateRequest struct {
	RequestJSON    RequestJSON `json:"requestJson"`              // PublicKeyCredentialCreationOptionsJSON, bare or {"publicKey":…}
	Origin         string      `json:"origin"`                   // https://…, http://localhost…, android:apk-key-hash:…
	PackageName    string      `json:"packageName,omitempty"`    // android callers
	ClientDataHash Bytes       `json:"clientDataHash,omitempty"` // privileged caller: sign this, omit clientDataJSON
}

// GetRequest is a sign-in (Android: GetPublicKeyCredentialOption).
type GetRequest struct {
	RequestJSON    RequestJSON `json:"requestJson"`
	Origin         string      `json:"origin"`
	PackageName    string      `json:"packageName,omitempty"`
	ClientDataHash Bytes       `json:"clientDataHash,omitempty"`
	// CredentialID completes the begin phase: the entry the user chose.
	CredentialID Bytes `json:"credentialId,omitempty"`
}

// Timeouts bound the options' timeout (WebAuthn §5.4 recommends 5–10 minutes
// as the range a client enforces).
const (
	DefaultTimeout = 5 * time.Minute
	MinTimeout     = 10 * time.Second
	MaxTimeout     = 10 * time.Minute
)

func withTimeout(ctx context.Context, ms uint64) (context.Context, context.CancelFunc) {
	d := DefaultTimeout
	if ms > 0 {
		d = min(max(time.Duration(ms)*time.Millisecond, MinTimeout), MaxTimeout)
	}
	return context.WithTimeout(ctx, d)
}

// hashOf returns the clientDataHash to sign: the caller's, or SHA-256 of the
// clientDataJSON built here (which is then returned to the caller).
func hashOf(given []byte, cdj []byte) ([]byte, []byte, error) {
	if given != nil {
		if len(given) != 32 {
			return nil, nil, refuse(ErrInvalidRequest, "clientDataHash must be 32 bytes (SHA-256)")
		}
		return given, nil, nil
	}
	h := sha256.Sum256(cdj)
	return h[:], cdj, nil
}

// conveyance is the attestation the relying party asked for, applied as a
// WebAuthn client does (WebAuthn §5.1.3 step 20).
var conveyance = attestation.ApplyConveyance
