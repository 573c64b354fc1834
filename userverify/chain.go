package userverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Chain returns a [Verifier] that tries vs in order, as a phone offers
// "Use screen lock" when the fingerprint reader cannot help. It moves on to
// the next method when one answers [ErrUnavailable] (no reader, nothing
// enrolled, no PIN set) or when the user gave up on it (a fingerprint not
// recognised too often, a dismissed prompt); it stops at the first other
// answer. When every method was skipped it answers [ErrDenied] if the user
// gave up on one of them, else [ErrUnavailable]. An empty chain answers
// [ErrUnavailable].
func Chain(vs ...Verifier) Verifier {
	return chain(append([]Verifier(nil), vs...))
}

type chain []Verifier

var _ Verifier = chain(nil)

// Verify asks each method in turn.
func (c chain) Verify(ctx context.Context, req Request) error {
	var skipped []error
	for _, v := range c {
		err := v.Verify(ctx, req)
		if !errors.Is(err, ErrUnavailable) {
			return err
		}
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		skipped = append(skipped, err)
	}
	return fellThrough(skipped)
}

// fellThrough is the answer of a chain whose every method was skipped.
func fellThrough(skipped []error) error {
	if len(skipped) == 0 {
		return fmt.Errorf("%w: no method configured", ErrUnavailable)
	}
	reasons := make([]string, len(skipped))
	gaveUp := false
	for i, err := range skipped {
		msg := strings.TrimPrefix(err.Error(), ErrUnavailable.Error()+": ")
		reasons[i] = strings.TrimPrefix(msg, "userverify: ")
		gaveUp = gaveUp || errors.Is(err, ErrDenied)
	}
	if gaveUp {
		return fmt.Errorf("%w: %s", ErrDenied, strings.Join(reasons, "; "))
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(reasons, "; "))
}

// String spells the chain as [Parse] reads it, e.g. "biometric,pin".
func (c chain) String() string {
	names := make([]string, len(c))
	for i, v := range c {
		names[i] = Describe(v)
	}
	return strings.Join(names, ",")
}

// Unattended reports whether any method of the chain answers without asking
// a person: once it is reached, nobody is asked.
func (c chain) Unattended() bool {
	for _, v := range c {
		if IsUnattended(v) {
			return true
		}
	}
	return false
}

// DefaultCommandTimeout bounds a command: hook when [Deps] sets no timeout.
const DefaultCommandTimeout = 30 * time.Second

// Deps carries what the methods of a --uv spec need. Only the fields of the
// methods named in the spec are used.
type Deps struct {
	// Vault holds the screen-lock PIN; the pin method needs it.
	Vault *PINVault
	// Pinentry is the pinentry program of the pin method; "" means
	// "pinentry" looked up in PATH.
	Pinentry string
	// Logger receives the methods' log lines; nil means slog.Default().
	Logger *slog.Logger
	// CommandTimeout bounds each run of a command: hook; 0 means
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
	// DBusAddress is the bus where the biometric method finds fprintd;
	// "" means the system bus.
	DBusAddress string
	// Mock answers for the mock method; nil means a new Mock that approves.
	Mock *Mock
}

// Methods lists the method names Parse accepts, in the order they are documented.
var Methods = []string{"biometric", "pin", "command:PROGRAM", "approve", "deny", "mock"}

// Parse reads a --uv spec: a comma-separated chain of methods tried in order
// (see [Chain]), such as "biometric,pin" or "command:/usr/local/bin/uv-hook --ci".
// PROGRAM is split into words as a shell would (quotes and backslashes, no
// expansion); a comma inside quotes does not end it. The result's String
// spells it back.
func Parse(spec string, deps Deps) (Verifier, error) {
	items := splitSpec(spec)
	methods := make([]Verifier, 0, len(items))
	for _, item := range items {
		v, err := parseMethod(strings.TrimSpace(item), deps)
		if err != nil {
			return nil, err
		}
		methods = append(methods, v)
	}
	return Chain(methods...), nil
}

func parseMethod(item string, deps Deps) (Verifier, error) {
	name, arg, hasArg := strings.Cut(item, ":")
	switch {
	case item == "":
		return nil, errors.New("userverify: empty method in the verification chain")
	case hasArg && name == "command":
		return parseCommand(arg, deps)
	case hasArg:
		return nil, fmt.Errorf("userverify: method %q takes no argument", name)
	}
	switch name {
	case "biometric":
		return &Biometric{Address: deps.DBusAddress, Logger: deps.Logger}, nil
	case "pin":
		if deps.Vault == nil {
			return nil, errors.New("userverify: the pin method needs a PIN vault")
		}
		return &PIN{Vault: deps.Vault, Pinentry: deps.Pinentry, Logger: deps.Logger}, nil
	case "approve":
		return Approve{Logger: deps.Logger}, nil
	case "deny":
		return Deny{Logger: deps.Logger}, nil
	case "mock":
		if deps.Mock != nil {
			return deps.Mock, nil
		}
		return NewMock(), nil
	case "command":
		return nil, errors.New("userverify: command needs a program: command:PROGRAM")
	}
	return nil, fmt.Errorf("userverify: unknown method %q; want one of %s",
		name, strings.Join(Methods, ", "))
}

func parseCommand(cmdline string, deps Deps) (Verifier, error) {
	c, err := NewCommand(cmdline)
	if err != nil {
		return nil, err
	}
	c.Timeout = deps.CommandTimeout
	if c.Timeout == 0 {
		c.Timeout = DefaultCommandTimeout
	}
	return c, nil
}

// splitSpec splits a spec at the commas that are outside quotes.
func splitSpec(spec string) []string {
	var items []string
	var quote rune
	escaped := false
	start := 0
	for i, r := range spec {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ',':
			items = append(items, spec[start:i])
			start = i + 1
		}
	}
	return append(items, spec[start:])
}
