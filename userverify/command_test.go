package userverify

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCommandExitStatus(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		script  string
		want    error
		wantMsg []string // parts of the error message of a failing hook
	}{
		{"exit 0 verifies", "exit 0\n", nil, nil},
		{"exit 1 denies", "echo no >&2\nexit 1\n", ErrDenied, nil},
		{"exit 3 fails", "echo 'hook: cannot reach the approver' >&2\necho second line >&2\nexit 3\n", nil,
			[]string{"exit status 3", "hook: cannot reach the approver"}},
		{"killed by a signal fails", "kill -TERM $$\n", nil, []string{"signal: terminated"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeScript(t, dir, "hook"+strconv.Itoa(i), tt.script)
			err := (&Command{Args: []string{path}}).Verify(bg, Request{Operation: OpGetAssertion})
			if tt.wantMsg == nil {
				wantErr(t, err, tt.want)
				return
			}
			if err == nil || errors.Is(err, ErrDenied) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("got %v, want a plain error", err)
			}
			for _, part := range tt.wantMsg {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q lacks %q", err, part)
				}
			}
			if strings.Contains(err.Error(), "second line") {
				t.Errorf("error %q carries more than the first line of stderr", err)
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Errorf("error %q does not wrap the exit status", err)
			}
		})
	}
}

func TestCommandEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env.txt")
	script := writeScript(t, dir, "hook", `
{
	echo "op=$PASSKEYD_UV_OPERATION"
	echo "rp=$PASSKEYD_UV_RP_ID"
	echo "user=$PASSKEYD_UV_USER_NAME"
	echo "reason=$PASSKEYD_UV_REASON"
	echo "parent=$PASSKEYD_TEST_PARENT"
	echo "arg=$1"
	if read -r line; then echo "stdin=$line"; else echo "stdin=empty"; fi
} > "$OUT_FILE"
`)
	t.Setenv("PASSKEYD_TEST_PARENT", "kept")
	t.Setenv("OUT_FILE", out)
	c, err := NewCommand(quoteWord(script) + " 'first arg'")
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Operation: OpMakeCredential, RPID: "example.com", UserName: "alice@example.com", Reason: "Create a passkey for example.com"}
	wantErr(t, c.Verify(bg, req), nil)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "op=make-credential\nrp=example.com\nuser=alice@example.com\nreason=Create a passkey for example.com\n" +
		"parent=kept\narg=first arg\nstdin=empty\n"
	if string(got) != want {
		t.Fatalf("the hook saw\n%s\nwant\n%s", got, want)
	}
}

// sleeper writes a script that starts a child, records the child's PID and
// its own, and sleeps.
func sleeper(t *testing.T) (script, childPIDFile string) {
	dir := t.TempDir()
	childPIDFile = filepath.Join(dir, "child.pid")
	script = writeScript(t, dir, "hook", `
sleep 10 &
echo $! > "`+childPIDFile+`.tmp"
mv "`+childPIDFile+`.tmp" "`+childPIDFile+`"
wait
`)
	return script, childPIDFile
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		// A file being written may still be empty.
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PID in %s", file)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCommandKilledWhenContextEnds(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // the Command's own
		ctx     func() (context.Context, context.CancelFunc)
		want    error
	}{
		{"cancel", 0, func() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }, ErrCancelled},
		{"ctx deadline", 0, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(bg, time.Second)
		}, ErrTimeout},
		{"own timeout", time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(bg)
		}, ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script, pidFile := sleeper(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- (&Command{Args: []string{script}, Timeout: tt.timeout}).Verify(ctx, Request{}) }()
			child := readPID(t, pidFile)
			if tt.name == "cancel" {
				cancel()
			}
			select {
			case err := <-done:
				wantErr(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("Verify did not return after the context ended")
			}
			if time.Since(start) > 4*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			waitGone(t, child)
		})
	}
}

func TestCommandMissingProgram(t *testing.T) {
	err := (&Command{Args: []string{filepath.Join(t.TempDir(), "nope")}}).Verify(bg, Request{})
	if err == nil || errors.Is(err, ErrDenied) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want a plain error", err)
	}
	if !strings.Contains(err.Error(), "failed to start") {
		t.Errorf("error %q", err)
	}
}

func TestCommandStderrIsBounded(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, "hook", "head -c 1000000 /dev/zero | tr '\\0' x >&2\nexit 2\n")
	err := (&Command{Args: []string{script}}).Verify(bg, Request{})
	if err == nil || len(err.Error()) > stderrLimit+200 {
		t.Fatalf("error of %d bytes", len(err.Error()))
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "hook", want: []string{"hook"}},
		{in: "  /bin/hook  -a   b ", want: []string{"/bin/hook", "-a", "b"}},
		{in: `hook 'a b' "c d"`, want: []string{"hook", "a b", "c d"}},
		{in: `hook 'it'\''s'`, want: []string{"hook", "it's"}},
		{in: `hook "say \"hi\" \$x \n"`, want: []string{"hook", `say "hi" $x \n`}},
		{in: `hook a\ b ''`, want: []string{"hook", "a b", ""}},
		{in: `hook $HOME`, want: []string{"hook", "$HOME"}},
		{in: "", want: nil},
		{in: `hook 'open`, err: true},
		{in: `hook "open`, err: true},
		{in: `hook \`, err: true},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if tt.err != (err != nil) || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzQuoteWordRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", "a b", "it's", `"\`, "x,y", "$HOME"} {
		f.Add(s, "second")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := splitWords(quoteWord(a) + " " + quoteWord(b))
		if err != nil || len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("round trip of %q %q gave %q, %v", a, b, got, err)
		}
	})
}
