package userverify

import (
	"context"
	"errors"
	"fmt"
)

// ctxErr maps a finished context to the outcome a caller branches on:
// a deadline is [ErrTimeout], anything else (cancel, shutdown) is [ErrCancelled].
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrCancelled
}

// gaveUpError is the answer of a method whose user gave up on it: a
// fingerprint not recognised too often, a PIN prompt dismissed. Like the
// "Use screen lock" button of a phone, it lets a [Chain] move on to its next
// method, so it matches both [ErrUnavailable] and [ErrDenied]; when no method
// follows, the chain answers [ErrDenied].
type gaveUpError struct {
	reason string
}

func (e *gaveUpError) Error() string {
	return "userverify: user gave up: " + e.reason
}

// Is makes errors.Is hold for ErrDenied and ErrUnavailable.
func (e *gaveUpError) Is(target error) bool {
	return target == ErrDenied || target == ErrUnavailable
}

// unavailable wraps ErrUnavailable with the method and why it cannot ask.
func unavailable(method, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, method, reason)
}
