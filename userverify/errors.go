package userverify

import (
	"context"
	"errors"
)

// ctxErr maps a finished context to the outcome a caller branches on:
// a deadline is [ErrTimeout], anything else (cancel, shutdown) is [ErrCancelled].
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrCancelled
}
