package userverify

import (
	"context"
	"log/slog"
)

// Approve is a [Verifier] that verifies every request without asking anybody:
// for CI runs and benchmarks, where a hook program would cost a fork per
// operation. Each decision is logged at Debug level (decision, operation, rp;
// nothing secret) to Logger, or to [slog.Default] when Logger is nil: at
// thousands of operations a second, an Info line each would cost more than
// the operation. The daemon warns once at start that nobody is asked, and
// logs at Info every verification that did not pass.
type Approve struct {
	Logger *slog.Logger
}

// Deny is a [Verifier] that denies every request with [ErrDenied] without
// asking anybody. It logs each decision as [Approve] does.
type Deny struct {
	Logger *slog.Logger
}

var (
	_ Verifier = Approve{}
	_ Verifier = Deny{}
)

// Verify answers nil, or ErrCancelled/ErrTimeout if ctx is already done.
func (a Approve) Verify(ctx context.Context, req Request) error {
	return decide(ctx, a.Logger, req, "approve", nil)
}

// Verify answers ErrDenied, or ErrCancelled/ErrTimeout if ctx is already done.
func (d Deny) Verify(ctx context.Context, req Request) error {
	return decide(ctx, d.Logger, req, "deny", ErrDenied)
}

// String names the method as [Parse] spells it.
func (Approve) String() string { return "approve" }

// String names the method as [Parse] spells it.
func (Deny) String() string { return "deny" }

// Unattended reports true: Approve asks nobody.
func (Approve) Unattended() bool { return true }

// Unattended reports true: Deny asks nobody.
func (Deny) Unattended() bool { return true }

func decide(ctx context.Context, logger *slog.Logger, req Request, method string, outcome error) error {
	if logger == nil {
		logger = slog.Default()
	}
	decision := "approved"
	if outcome != nil {
		decision = "denied"
	}
	if ctx.Err() != nil {
		outcome, decision = ctxErr(ctx), "cancelled"
	}
	logger.LogAttrs(ctx, slog.LevelDebug, "user verification answered without asking anybody",
		slog.String("method", method),
		slog.String("decision", decision),
		slog.String("operation", string(req.Operation)),
		slog.String("rp", req.RPID))
	return outcome
}
