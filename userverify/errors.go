package userverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// outcome names an answer for the log.
func outcome(err error) string {
	switch {
	case err == nil:
		return "verified"
	case errors.Is(err, ErrLockedOut):
		return "locked out"
	case errors.Is(err, ErrTimeout):
		return "timed out"
	case errors.Is(err, ErrCancelled):
		return "cancelled"
	case errors.Is(err, ErrUnavailable) && errors.Is(err, ErrDenied):
		return "gave up"
	case errors.Is(err, ErrDenied):
		return "denied"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// logOutcome logs the answer of a method that asked a person: nothing
// secret, and at debug level when the method could not ask, so that a
// chain's skipped methods do not fill the log.
func logOutcome(ctx context.Context, logger *slog.Logger, method string, req Request, err error) {
	level := slog.LevelInfo
	if errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrDenied) {
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("outcome", outcome(err)),
		slog.String("operation", string(req.Operation)),
		slog.String("rp", req.RPID),
	}
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	logger.LogAttrs(ctx, level, "user verification", attrs...)
}
