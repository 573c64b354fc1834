package userverify

import (
	"context"
	"errors"
)

// Operation names what the user is asked to approve.
type Operation string

// The operations that ask the user.
const (
	OpMakeCredential       Operation = "make-credential"
	OpGetAssertion         Operation = "get-assertion"
	OpUVToken              Operation = "uv-token" // pinUvAuthToken through built-in UV
	OpCredentialManagement Operation = "credential-management"
	OpLargeBlobWrite       Operation = "large-blob-write"
	OpConfig               Operation = "config"
	OpReset                Operation = "reset"
	OpSelection            Operation = "selection"
)

// Request is one question put to the user.
type Request struct {
	Operation Operation
	RPID      string // may be empty (reset, config, token without rpId)
	UserName  string // may be empty
	Reason    string // a sentence a person understands, e.g. "Sign in to example.com as alice"
}

// Verifier asks the user to verify. It returns nil when the user verified.
// It must return promptly once ctx is done, with ErrCancelled or ErrTimeout.
type Verifier interface {
	Verify(ctx context.Context, req Request) error
}

// Outcomes other than success. Callers branch on them with errors.Is.
var (
	// ErrDenied: the user said no, or the wrong finger/PIN was offered and the method gave up.
	ErrDenied = errors.New("userverify: denied by the user")
	// ErrTimeout: nobody answered in time.
	ErrTimeout = errors.New("userverify: timed out")
	// ErrCancelled: the request was cancelled (CTAPHID CANCEL, client gone, shutdown).
	ErrCancelled = errors.New("userverify: cancelled")
	// ErrLockedOut: too many failures; the method is blocked or in a lockout delay.
	ErrLockedOut = errors.New("userverify: locked out")
	// ErrUnavailable: the method cannot ask here (no reader, nothing enrolled, no PIN set,
	// no display). A chain moves on to its next method.
	ErrUnavailable = errors.New("userverify: method unavailable")
)
