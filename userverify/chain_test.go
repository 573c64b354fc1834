package userverify

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestChain(t *testing.T) {
	gaveUp := &gaveUpError{reason: "fingerprint not recognised 5 times"}
	tests := []struct {
		name      string
		outcomes  []error // one per method
		want      error
		wantNot   error // must not match
		wantCalls []int
	}{
		{"first verifies", []error{nil, nil}, nil, nil, []int{1, 0}},
		{"unavailable moves on", []error{ErrUnavailable, nil}, nil, nil, []int{1, 1}},
		{"denied stops", []error{ErrDenied, nil}, ErrDenied, nil, []int{1, 0}},
		{"locked out stops", []error{ErrLockedOut, nil}, ErrLockedOut, nil, []int{1, 0}},
		{"timeout stops", []error{ErrTimeout, nil}, ErrTimeout, nil, []int{1, 0}},
		{"other error stops", []error{errors.New("hook crashed"), nil}, nil, nil, []int{1, 0}},
		{"all unavailable", []error{ErrUnavailable, ErrUnavailable}, ErrUnavailable, ErrDenied, []int{1, 1}},
		{"gave up moves on", []error{gaveUp, nil}, nil, nil, []int{1, 1}},
		{"gave up at the end is denied", []error{ErrUnavailable, gaveUp}, ErrDenied, ErrUnavailable, []int{1, 1}},
		{"second denies", []error{ErrUnavailable, ErrDenied}, ErrDenied, ErrUnavailable, []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mocks := make([]*Mock, len(tt.outcomes))
			vs := make([]Verifier, len(tt.outcomes))
			for i, o := range tt.outcomes {
				mocks[i] = NewMock(o)
				vs[i] = mocks[i]
			}
			err := Chain(vs...).Verify(bg, Request{Operation: OpGetAssertion})
			if tt.name == "other error stops" {
				if err == nil || err.Error() != "hook crashed" {
					t.Fatalf("got %v, want the hook's error", err)
				}
			} else {
				wantErr(t, err, tt.want)
			}
			if tt.wantNot != nil && errors.Is(err, tt.wantNot) {
				t.Errorf("%v also matches %v", err, tt.wantNot)
			}
			for i, m := range mocks {
				if m.Calls() != tt.wantCalls[i] {
					t.Errorf("method %d asked %d times, want %d", i, m.Calls(), tt.wantCalls[i])
				}
			}
		})
	}
}

func TestChainEmptyIsUnavailable(t *testing.T) {
	wantErr(t, Chain().Verify(bg, Request{}), ErrUnavailable)
}

func TestChainStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	first := verifierFunc(func(context.Context, Request) error {
		cancel()
		return ErrUnavailable
	})
	second := NewMock()
	wantErr(t, Chain(first, second).Verify(ctx, Request{}), ErrCancelled)
	if second.Calls() != 0 {
		t.Fatal("the chain went on after its context ended")
	}
}

func TestChainUnavailableSaysWhy(t *testing.T) {
	err := Chain(
		verifierFunc(func(context.Context, Request) error { return unavailable("biometric", "no fingerprint reader") }),
		verifierFunc(func(context.Context, Request) error { return unavailable("pin", "no PIN is set") }),
	).Verify(bg, Request{})
	want := "userverify: method unavailable: biometric: no fingerprint reader; pin: no PIN is set"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

type verifierFunc func(context.Context, Request) error

func (f verifierFunc) Verify(ctx context.Context, req Request) error { return f(ctx, req) }

func TestParse(t *testing.T) {
	vault, err := NewPINVault(newMemSettings(), WithKDF(CheapKDF))
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Vault: vault, Logger: slog.New(slog.DiscardHandler), CommandTimeout: time.Minute}
	tests := []struct {
		spec       string
		describe   string // "" means the spec itself
		unattended bool
		err        string // a part of the error; "" means success
	}{
		{spec: "biometric,pin"},
		{spec: "pin"},
		{spec: "approve", unattended: true},
		{spec: "deny", unattended: true},
		{spec: "mock", unattended: true},
		{spec: "biometric,approve", unattended: true},
		{spec: " biometric , pin ", describe: "biometric,pin"},
		{spec: "command:/usr/local/bin/uv-hook"},
		{spec: "command:uv-hook --mode 'a b',pin", describe: "command:uv-hook --mode 'a b',pin"},
		{spec: `command:hook "x,y",deny`, describe: "command:hook 'x,y',deny", unattended: true},
		{spec: "", err: "empty method"},
		{spec: "pin,", err: "empty method"},
		{spec: "fingerprint", err: `unknown method "fingerprint"; want one of biometric, pin, command:PROGRAM, approve, deny, mock`},
		{spec: "Biometric", err: `unknown method "Biometric"`},
		{spec: "command", err: "command needs a program"},
		{spec: "command:", err: "command needs a program"},
		{spec: "command:'unterminated", err: "unterminated quote"},
		{spec: "pin:1234", err: `method "pin" takes no argument`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			v, err := Parse(tt.spec, deps)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) error = %v, want one with %q", tt.spec, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.describe
			if want == "" {
				want = tt.spec
			}
			if got := Describe(v); got != want {
				t.Errorf("Describe = %q, want %q", got, want)
			}
			if IsUnattended(v) != tt.unattended {
				t.Errorf("IsUnattended = %v, want %v", IsUnattended(v), tt.unattended)
			}
			again, err := Parse(Describe(v), deps)
			if err != nil || Describe(again) != want {
				t.Errorf("Describe does not parse back: %v, %q", err, Describe(again))
			}
		})
	}
}

func TestParseWiresDeps(t *testing.T) {
	vault, _ := NewPINVault(newMemSettings(), WithKDF(CheapKDF))
	mock := NewMock()
	deps := Deps{Vault: vault, Pinentry: "/opt/pinentry", DBusAddress: "unix:path=/x", Mock: mock, CommandTimeout: 7 * time.Second}
	v, err := Parse("biometric,pin,command:hook,mock", deps)
	if err != nil {
		t.Fatal(err)
	}
	c := v.(chain)
	if b := c[0].(*Biometric); b.Address != "unix:path=/x" {
		t.Errorf("biometric address %q", b.Address)
	}
	if p := c[1].(*PIN); p.Vault != vault || p.Pinentry != "/opt/pinentry" {
		t.Errorf("pin got %+v", p)
	}
	if cmd := c[2].(*Command); cmd.Timeout != 7*time.Second {
		t.Errorf("command timeout %v", cmd.Timeout)
	}
	if c[3] != Verifier(mock) {
		t.Error("mock is not the one in Deps")
	}
	v, _ = Parse("command:hook", Deps{})
	if cmd := v.(chain)[0].(*Command); cmd.Timeout != DefaultCommandTimeout {
		t.Errorf("default command timeout %v", cmd.Timeout)
	}
	if _, err := Parse("pin", Deps{}); err == nil || !strings.Contains(err.Error(), "PIN vault") {
		t.Errorf("pin without a vault: %v", err)
	}
}
