package credman

import (
	"errors"
	"fmt"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/provider"
)

// Error is a refusal with a stable code, the DOMException name a browser
// would raise, and a sentence a developer understands. It is the JSON error
// body of api.sock.
type Error struct {
	Code    string `json:"code"`    // stable, e.g. "rp_id_mismatch"
	Name    string `json:"name"`    // DOMException name, e.g. "SecurityError"
	Message string `json:"message"` // a sentence that says what to fix
}

func (e *Error) Error() string { return "credman: " + e.Code + ": " + e.Message }

// Is matches another *Error by code, so errors.Is(err, credman.ErrNoCredentials) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The codes callers branch on. Messages in returned errors say more.
var (
	ErrInvalidRequest       = &Error{Code: "invalid_request", Name: "TypeError"}
	ErrInvalidOrigin        = &Error{Code: "invalid_origin", Name: "SecurityError"}
	ErrInsecureOrigin       = &Error{Code: "insecure_origin", Name: "SecurityError"}
	ErrRPIDMismatch         = &Error{Code: "rp_id_mismatch", Name: "SecurityError"}
	ErrMissingChallenge     = &Error{Code: "missing_challenge", Name: "TypeError"}
	ErrUnsupportedAlgorithm = &Error{Code: "unsupported_algorithm", Name: "NotSupportedError"}
	ErrExcluded             = &Error{Code: "credential_excluded", Name: "InvalidStateError"}
	ErrNoCredentials        = &Error{Code: "no_credentials", Name: "NotAllowedError"}
	ErrNotAllowed           = &Error{Code: "not_allowed", Name: "NotAllowedError"}
	ErrTimeout              = &Error{Code: "timeout", Name: "NotAllowedError"}
	ErrCancelled            = &Error{Code: "cancelled", Name: "AbortError"}
	ErrLockedOut            = &Error{Code: "locked_out", Name: "NotAllowedError"}
	ErrProviderDisabled     = &Error{Code: "provider_disabled", Name: "NotAllowedError"}
	ErrUnknownEntry         = &Error{Code: "unknown_entry", Name: "NotAllowedError"}
	ErrInternal             = &Error{Code: "internal", Name: "UnknownError"}
)

func refuse(kind *Error, format string, args ...any) *Error {
	return &Error{Code: kind.Code, Name: kind.Name, Message: fmt.Sprintf(format, args...)}
}

// errDisabled is the refusal of a switched-off provider, in the begin phase
// as in the operations themselves.
func errDisabled() *Error {
	return refuse(ErrProviderDisabled, "%s", provider.ErrDisabled.Reason)
}

// fromProvider turns a provider error into an *Error.
func fromProvider(err error) *Error {
	var injected *provider.InjectedError
	if errors.As(err, &injected) {
		return injectedError(injected.Code)
	}
	if errors.Is(err, provider.ErrDisabled) {
		return errDisabled()
	}
	why := err.Error()
	switch ctap.StatusOf(err) {
	case ctap.ErrOperationDenied:
		return refuse(ErrNotAllowed, "the user did not allow it (%s)", why)
	case ctap.ErrCredentialExcluded:
		return refuse(ErrExcluded, "a passkey in excludeCredentials is already stored here for this account")
	case ctap.ErrNoCredentials:
		return refuse(ErrNoCredentials, "no passkey stored here matches this rpId and allowCredentials")
	case ctap.ErrUserActionTimeout:
		return refuse(ErrTimeout, "the user did not answer before the timeout")
	case ctap.ErrKeepaliveCancel:
		return refuse(ErrCancelled, "the request was cancelled")
	case ctap.ErrUVBlocked, ctap.ErrPINBlocked, ctap.ErrPINAuthBlocked:
		return refuse(ErrLockedOut, "user verification is locked after too many failures (%s)", why)
	case ctap.ErrUnsupportedAlgorithm:
		return refuse(ErrUnsupportedAlgorithm, "pubKeyCredParams must include ES256 (alg -7)")
	}
	return refuse(ErrInternal, "%s", why)
}

// Codes lists every error code credman answers, for fault injection.
var Codes = []*Error{ErrInvalidRequest, ErrInvalidOrigin, ErrInsecureOrigin, ErrRPIDMismatch, ErrMissingChallenge,
	ErrUnsupportedAlgorithm, ErrExcluded, ErrNoCredentials, ErrNotAllowed, ErrTimeout, ErrCancelled, ErrLockedOut,
	ErrProviderDisabled, ErrUnknownEntry, ErrInternal}

// injectedError answers an injected credman-error fault with its code.
func injectedError(code string) *Error {
	for _, e := range Codes {
		if e.Code == code {
			return refuse(e, "injected fault: %s", code)
		}
	}
	return &Error{Code: code, Name: "NotAllowedError", Message: "injected fault: " + code}
}
