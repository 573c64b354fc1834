package userverify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// PIN is the screen-lock PIN method: it asks for the PIN through a pinentry
// program, the prompt GnuPG uses, speaking the Assuan protocol on its
// standard input and output, and checks it with the [PINVault] that CTAP
// ClientPIN shares.
//
// A wrong PIN is asked again, up to Attempts times in one request, then the
// answer is [ErrDenied]. No PIN set is [ErrUnavailable], so a [Chain] moves
// on; a blocked PIN or a lockout delay is [ErrLockedOut]; a prompt the user
// cancels lets a chain move on, and is [ErrDenied] at its end. When ctx ends,
// the pinentry is killed. The PIN is never logged and is wiped once hashed.
type PIN struct {
	// Vault checks the PIN.
	Vault *PINVault
	// Pinentry is the program to run; "" means "pinentry" looked up in PATH.
	Pinentry string
	// Attempts bounds the PINs asked in one request; 0 means 3.
	Attempts int
	// Logger receives one line per outcome; nil means slog.Default().
	Logger *slog.Logger
}

var _ Verifier = (*PIN)(nil)

const defaultPINAttempts = 3

// Verify asks for the PIN until it is right, the attempts run out, the
// user cancels or ctx ends.
func (p *PIN) Verify(ctx context.Context, req Request) error {
	if p.Vault == nil {
		return unavailable("pin", "no PIN vault")
	}
	if err := p.Vault.Ready(); err != nil {
		return refusedPIN(err)
	}
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	s, err := startPinentry(ctx, p.program())
	if err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		return unavailable("pin", err.Error())
	}
	defer s.close()
	err = p.ask(ctx, s, req)
	if ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	logOutcome(ctx, p.logger(), "pin", req, err)
	return err
}

// String names the method as [Parse] spells it.
func (p *PIN) String() string { return "pin" }

func (p *PIN) program() string {
	if p.Pinentry == "" {
		return "pinentry"
	}
	return p.Pinentry
}

func (p *PIN) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// ask runs one prompt session: set it up, then read PINs until one is right.
func (p *PIN) ask(ctx context.Context, s *pinentry, req Request) error {
	if err := s.setup(ctx, req); err != nil {
		return unavailable("pin", err.Error())
	}
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = defaultPINAttempts
	}
	for range attempts {
		done, err := p.try(s)
		if done {
			return err
		}
	}
	return fmt.Errorf("%w: %d wrong PINs", ErrDenied, attempts)
}

// try asks for one PIN and checks it; done reports that err is the answer.
func (p *PIN) try(s *pinentry) (done bool, err error) {
	pin, err := s.getPIN()
	if err != nil {
		return true, promptFailed(err)
	}
	if len(pin) == 0 {
		return false, s.setError("Enter your PIN.")
	}
	hash := pinHashBytes(pin)
	wipe(pin)
	err = p.Vault.Check(hash)
	wipe(hash)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, ErrPINInvalid):
		return true, refusedPIN(err)
	}
	if err := p.Vault.Ready(); err != nil {
		return true, refusedPIN(err)
	}
	left := p.Vault.Retries()
	return false, s.setError(fmt.Sprintf("Wrong PIN. %d tries left before the PIN is blocked.", left))
}

// refusedPIN maps a vault refusal to the outcome of the method.
func refusedPIN(err error) error {
	if errors.Is(err, ErrPINNotSet) {
		return unavailable("pin", "no PIN is set")
	}
	if errors.Is(err, ErrLockedOut) {
		return err
	}
	return &lockedOutError{cause: err}
}

// lockedOutError is ErrLockedOut with its cause (ErrPINBlocked, ErrPINAuthBlocked).
type lockedOutError struct{ cause error }

func (e *lockedOutError) Error() string {
	return ErrLockedOut.Error() + ": " + strings.TrimPrefix(e.cause.Error(), "userverify: ")
}

func (e *lockedOutError) Unwrap() []error { return []error{ErrLockedOut, e.cause} }

func promptFailed(err error) error {
	var ae *assuanError
	switch {
	case errors.As(err, &ae) && ae.cancelled():
		return &gaveUpError{reason: "PIN prompt cancelled"}
	case errors.As(err, &ae) && ae.timedOut():
		return ErrTimeout
	}
	return unavailable("pin", err.Error())
}

func pinHashBytes(pin []byte) []byte {
	sum := sha256.Sum256(pin)
	defer wipe(sum[:])
	return append([]byte(nil), sum[:PINHashSize]...)
}

// pinentry is one running pinentry program.
type pinentry struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File
	conn   *assuanConn
	done   chan struct{} // closed when the program has been waited for
}

// pinentryExitWait is how long a pinentry may take to leave after BYE.
const pinentryExitWait = 2 * time.Second

func startPinentry(ctx context.Context, program string) (*pinentry, error) {
	cmd := groupCommand(ctx, []string{program})
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Our own pipe, not cmd.StdoutPipe: Wait, running alongside, must not
	// close it under a read.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("failed to start pinentry: %w", err)
	}
	s := &pinentry{cmd: cmd, stdin: stdin, stdout: stdout, conn: newAssuanConn(stdout, stdin), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if _, err := s.conn.response(); err != nil {
		s.kill()
		return nil, fmt.Errorf("pinentry did not greet: %w", err)
	}
	return s, nil
}

// setup sends the texts of the prompt, and the time left when ctx has a deadline.
func (s *pinentry) setup(ctx context.Context, req Request) error {
	steps := [][2]string{
		{"SETTITLE", "passkeyd"},
		{"SETDESC", promptText(req)},
		{"SETPROMPT", "PIN:"},
	}
	if deadline, ok := ctx.Deadline(); ok {
		secs := math.Ceil(time.Until(deadline).Seconds())
		steps = append(steps, [2]string{"SETTIMEOUT", fmt.Sprint(max(int(secs), 1))})
	}
	for _, step := range steps {
		if _, err := s.conn.transact(step[0], step[1]); err != nil {
			return err
		}
	}
	return nil
}

func (s *pinentry) getPIN() ([]byte, error) {
	return s.conn.transact("GETPIN", "")
}

func (s *pinentry) setError(text string) error {
	_, err := s.conn.transact("SETERROR", text)
	return err
}

// close says BYE and waits a little for the program to leave, then kills it.
// It does not wait for an answer: a hung pinentry must not hang the daemon.
func (s *pinentry) close() {
	_, _ = io.WriteString(s.stdin, "BYE\n")
	_ = s.stdin.Close()
	select {
	case <-s.done:
		s.stdout.Close()
	case <-time.After(pinentryExitWait):
		s.kill()
	}
}

func (s *pinentry) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.stdout.Close()
}

// promptText is the description a pinentry shows: why, for which site and
// which account.
func promptText(req Request) string {
	lines := []string{req.Reason}
	if req.Reason == "" {
		lines[0] = defaultReason(req.Operation)
	}
	lines = append(lines, "")
	if req.RPID != "" {
		lines = append(lines, "Site: "+req.RPID)
	}
	if req.UserName != "" {
		lines = append(lines, "Account: "+req.UserName)
	}
	lines = append(lines, "", "Enter your screen-lock PIN to continue.")
	return strings.Join(lines, "\n")
}

func defaultReason(op Operation) string {
	switch op {
	case OpMakeCredential:
		return "Create a passkey"
	case OpGetAssertion:
		return "Sign in with a passkey"
	case OpCredentialManagement:
		return "Manage your passkeys"
	case OpReset:
		return "Reset passkeyd and delete every passkey"
	}
	return "Confirm it is you (" + string(op) + ")"
}
