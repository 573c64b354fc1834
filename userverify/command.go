package userverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Command is a [Verifier] that asks an external program: the way CI approves
// or denies without a person, and a place for any prompt passkeyd does not
// know.
//
// The program gets the request in its environment, on top of the daemon's:
//
//	PASSKEYD_UV_OPERATION  the [Operation], e.g. "make-credential"
//	PASSKEYD_UV_RP_ID      the relying party ID, possibly empty
//	PASSKEYD_UV_USER_NAME  the user name, possibly empty
//	PASSKEYD_UV_REASON     a sentence a person understands
//
// Its standard input is /dev/null and its standard output is discarded.
// Exit status 0 means verified, 1 means denied ([ErrDenied]); any other
// status, or death by a signal, is an error naming the status and the first
// line the program wrote to standard error. The program runs in its own
// process group, which is killed when ctx ends ([ErrCancelled], or
// [ErrTimeout] for a deadline) or when Timeout passes ([ErrTimeout]).
type Command struct {
	// Args is the program and its arguments. A program without a slash is
	// looked up in PATH.
	Args []string
	// Timeout bounds each run; 0 means only ctx bounds it.
	Timeout time.Duration
}

var _ Verifier = (*Command)(nil)

// The environment variables a Command's program reads.
const (
	EnvOperation = "PASSKEYD_UV_OPERATION"
	EnvRPID      = "PASSKEYD_UV_RP_ID"
	EnvUserName  = "PASSKEYD_UV_USER_NAME"
	EnvReason    = "PASSKEYD_UV_REASON"
)

// NewCommand returns a Command running cmdline, split into words as a POSIX
// shell would: blanks separate words, single quotes keep everything, double
// quotes and backslashes escape; nothing is expanded.
func NewCommand(cmdline string) (*Command, error) {
	args, err := splitWords(cmdline)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errors.New("userverify: command needs a program: command:PROGRAM")
	}
	return &Command{Args: args}, nil
}

// Verify runs the program once and maps its exit status.
func (c *Command) Verify(ctx context.Context, req Request) error {
	if len(c.Args) == 0 {
		return errors.New("userverify: command has no program")
	}
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	runCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var stderr limitedBuffer
	cmd := groupCommand(runCtx, c.Args)
	cmd.Env = append(os.Environ(), requestEnv(req)...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return ctxErr(ctx)
	case runCtx.Err() != nil:
		return ErrTimeout
	}
	return c.exitOutcome(cmd, err, stderr.firstLine())
}

func (c *Command) exitOutcome(cmd *exec.Cmd, err error, stderr string) error {
	if cmd.ProcessState == nil {
		return fmt.Errorf("userverify: failed to start command %s: %w", c.Args[0], err)
	}
	switch cmd.ProcessState.ExitCode() {
	case 0:
		return nil
	case 1:
		return ErrDenied
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("userverify: command %s: %w", c.Args[0], err)
	}
	if stderr == "" {
		return fmt.Errorf("userverify: command %s failed: %w", c.Args[0], exitErr)
	}
	return fmt.Errorf("userverify: command %s failed: %w: %s", c.Args[0], exitErr, stderr)
}

// String spells the method as [Parse] reads it.
func (c *Command) String() string {
	words := make([]string, len(c.Args))
	for i, a := range c.Args {
		words[i] = quoteWord(a)
	}
	return "command:" + strings.Join(words, " ")
}

func requestEnv(req Request) []string {
	return []string{
		EnvOperation + "=" + string(req.Operation),
		EnvRPID + "=" + req.RPID,
		EnvUserName + "=" + req.UserName,
		EnvReason + "=" + req.Reason,
	}
}

// groupCommand prepares args to run in a new process group that is killed
// whole when ctx ends, so that a hook's children die with it.
func groupCommand(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild that escaped the group could hold stderr open; do not
	// wait for it forever.
	cmd.WaitDelay = time.Second
	return cmd
}

// limitedBuffer keeps the first bytes written to it and drops the rest, so a
// chatty program cannot grow the daemon's memory.
type limitedBuffer struct {
	buf bytes.Buffer
}

const stderrLimit = 4096

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := stderrLimit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) firstLine() string {
	line, _, _ := strings.Cut(b.buf.String(), "\n")
	return strings.TrimSpace(line)
}
