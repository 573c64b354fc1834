package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Every message a person reads comes from this file: errors are one line on
// stderr, results go to stdout, and the exit code says which.

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// report prints err as one line and returns its exit code.
func report(cmd *cobra.Command, err error) int {
	var ue *usageError
	code := exitFailed
	if errors.As(err, &ue) || isCobraUsage(err) {
		code = exitUsage
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	if strings.Contains(msg, "unknown shorthand flag") {
		// A base64url credential ID may start with '-'.
		msg += " (a credential ID that starts with '-' goes after --, as in: passkeyd passkeys delete -- -AbC)"
	}
	fmt.Fprintf(os.Stderr, "passkeyd: %s\n", msg)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// isCobraUsage recognises cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least",
		"invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// printJSON writes v indented, for --json and machine-readable output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a terminal (confirmation prompts, progress bars).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// confirm asks a yes/no question on the terminal; scripts pass --yes.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	var answer string
	fmt.Fscanln(in, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
