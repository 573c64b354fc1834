package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/hidclient"
	"github.com/passkeyd/passkeyd/internal/pinuv"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// The management commands (passkeys, pin, reset) are CTAP 2.1 clients of
// ctaphid.sock, so they work against any authenticator on that socket. One
// command is one CTAPHID channel: a pinUvAuthToken belongs to the channel
// that obtained it.

// Environment variables that give PINs to scripts; PINs are never flags.
const (
	envPIN    = "PASSKEYD_PIN"
	envNewPIN = "PASSKEYD_NEW_PIN"
)

// ctapConn is one CTAPHID channel to the authenticator and what it said in
// GetInfo.
type ctapConn struct {
	hid  *hidclient.Client
	c    *ctapclient.Client
	info *ctap.GetInfoResponse
}

// dialCTAP connects to ctaphid.sock in the runtime directory and asks for
// GetInfo. No daemon there gives errNotRunning.
func dialCTAP(ctx context.Context, cmd *cobra.Command, d *dirs) (*ctapConn, error) {
	sock := filepath.Join(d.runtime, daemon.CTAPHIDSocket)
	if _, err := os.Stat(sock); err != nil {
		return nil, errNotRunning(d.runtime)
	}
	hid, err := hidclient.Dial(sock)
	if err != nil {
		if isRefused(err) || errors.Is(err, os.ErrNotExist) {
			return nil, errNotRunning(d.runtime)
		}
		return nil, fmt.Errorf("cannot talk to the authenticator on %s: %v", sock, err)
	}
	cc := &ctapConn{hid: hid, c: ctapclient.New(hid)}
	cc.c.OnKeepalive = waitingNotice(cmd.ErrOrStderr())
	if cc.info, err = cc.c.GetInfo(ctx); err != nil {
		hid.Close()
		return nil, fmt.Errorf("the authenticator on %s did not answer GetInfo: %v", sock, err)
	}
	return cc, nil
}

// Close hangs up.
func (cc *ctapConn) Close() error { return cc.hid.Close() }

// option reports whether GetInfo lists option name, and its value.
func (cc *ctapConn) option(name string) (value, present bool) {
	value, present = cc.info.Options[name]
	return value, present
}

// protocol picks PIN/UV auth protocol 2, or 1 from an authenticator that
// offers only that.
func (cc *ctapConn) protocol() (pinuv.Protocol, error) {
	for _, v := range []uint{2, 1} {
		if slices.Contains(cc.info.PinUvAuthProtocols, v) {
			return pinuv.ByVersion(v), nil
		}
	}
	return nil, errors.New("the authenticator supports no PIN/UV auth protocol")
}

// token obtains a pinUvAuthToken with perms: with the PIN when usePIN is
// set, otherwise through the authenticator's built-in user verification
// (for passkeyd, its UV hook, asked once).
func (cc *ctapConn) token(ctx context.Context, cmd *cobra.Command, usePIN bool, perms uint) (*ctapclient.Token, error) {
	pr, err := cc.protocol()
	if err != nil {
		return nil, err
	}
	if usePIN {
		return cc.pinToken(ctx, cmd, pr, perms)
	}
	if uv, _ := cc.option("uv"); !uv {
		return nil, errors.New("the authenticator has no built-in user verification; pass --pin to use its PIN")
	}
	tok, err := cc.c.UVToken(ctx, pr, perms, "")
	return tok, describeCTAP(err)
}

func (cc *ctapConn) pinToken(ctx context.Context, cmd *cobra.Command, pr pinuv.Protocol, perms uint) (*ctapclient.Token, error) {
	if set, _ := cc.option("clientPin"); !set {
		return nil, errors.New("no PIN is set; set one with: passkeyd pin set")
	}
	pin, err := readSecret(cmd, envPIN, "PIN: ")
	if err != nil {
		return nil, err
	}
	tok, err := cc.c.PINToken(ctx, pr, pin, perms, "")
	return tok, cc.describePINError(ctx, err)
}

// describePINError says how many tries are left after a wrong PIN.
func (cc *ctapConn) describePINError(ctx context.Context, err error) error {
	if !errors.Is(err, ctap.ErrPINInvalid) {
		return describeCTAP(err)
	}
	if n, rerr := cc.c.PINRetries(ctx); rerr == nil {
		return fmt.Errorf("wrong PIN (%d %s left)", n, plural(n, "attempt", "attempts"))
	}
	return errors.New("wrong PIN")
}

// ctapMessages turn the statuses a person can meet into sentences.
var ctapMessages = map[ctap.Status]string{
	ctap.ErrOperationDenied:        "user verification was denied; nothing was changed",
	ctap.ErrUserActionTimeout:      "user verification timed out; nothing was changed",
	ctap.ErrActionTimeout:          "the authenticator timed out; nothing was changed",
	ctap.ErrKeepaliveCancel:        "cancelled; nothing was changed",
	ctap.ErrUVBlocked:              "user verification is blocked; use --pin",
	ctap.ErrUVInvalid:              "user verification failed; nothing was changed",
	ctap.ErrPINInvalid:             "wrong PIN",
	ctap.ErrPINBlocked:             "the PIN is blocked after too many wrong attempts; only 'passkeyd reset' clears it",
	ctap.ErrPINAuthBlocked:         "too many wrong PINs in a row; wait, or restart the authenticator, and try again",
	ctap.ErrPINNotSet:              "no PIN is set; set one with: passkeyd pin set",
	ctap.ErrPINPolicyViolation:     "the PIN does not meet the authenticator's policy (too short, too long, or it must be changed first)",
	ctap.ErrUnauthorizedPermission: "the authenticator does not allow this permission",
	ctap.ErrInvalidCommand:         "the authenticator does not support this command",
}

// describeCTAP makes a CTAP error one line a person understands, keeping
// the status for errors.Is.
func describeCTAP(err error) error {
	if err == nil {
		return nil
	}
	s := ctap.StatusOf(err)
	if msg, ok := ctapMessages[s]; ok {
		return &ctapError{msg: msg, status: s}
	}
	if s != ctap.ErrOther {
		return &ctapError{msg: "the authenticator refused: " + s.Name(), status: s}
	}
	var code ctaphid.ErrorCode
	if errors.As(err, &code) {
		return fmt.Errorf("the authenticator answered with a CTAPHID error: %v", err)
	}
	return err
}

// ctapError is a described CTAP status; errors.Is still matches the status.
type ctapError struct {
	msg    string
	status ctap.Status
}

func (e *ctapError) Error() string { return e.msg }

// Is matches the CTAP status the error describes.
func (e *ctapError) Is(target error) bool {
	s, ok := target.(ctap.Status)
	return ok && s == e.status
}

// waitingNotice tells a person at a terminal, once per command, that the
// authenticator is waiting for them.
func waitingNotice(w io.Writer) func(status byte) {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	var once sync.Once
	return func(status byte) {
		if status == ctaphid.StatusUPNeeded {
			once.Do(func() { fmt.Fprintln(w, "Waiting for you to confirm on the authenticator's prompt…") })
		}
	}
}

// stdinIsTerminal says whether a command may ask questions on r. Tests
// replace it.
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}

// readSecret takes a PIN from the environment variable env, or asks for it
// on the terminal without echo.
func readSecret(cmd *cobra.Command, env, prompt string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	in := cmd.InOrStdin()
	f, ok := in.(*os.File)
	if !ok || !stdinIsTerminal(in) {
		return "", usagef("set %s, or run on a terminal to be asked", env)
	}
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("cannot read the PIN: %v", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readNewPIN takes a new PIN from env, or asks twice on the terminal.
func readNewPIN(cmd *cobra.Command, env string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	pin, err := readSecret(cmd, env, "New PIN: ")
	if err != nil {
		return "", err
	}
	again, err := readSecret(cmd, env, "New PIN again: ")
	if err != nil {
		return "", err
	}
	if pin != again {
		return "", errors.New("the two PINs differ; nothing was changed")
	}
	return pin, nil
}

// confirmOrYes asks question on a terminal unless --yes was given. Without
// a terminal, --yes is required.
func confirmOrYes(cmd *cobra.Command, yes bool, question string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal(cmd.InOrStdin()) {
		return usagef("stdin is not a terminal: pass --yes to confirm")
	}
	if !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), question) {
		return errors.New("not confirmed; nothing was changed")
	}
	return nil
}

// needYes fails early, before anyone is asked to verify, when a command
// would need a confirmation it cannot get.
func needYes(cmd *cobra.Command, yes bool) error {
	if !yes && !stdinIsTerminal(cmd.InOrStdin()) {
		return usagef("stdin is not a terminal: pass --yes to confirm")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
