// Command passkeyd is a software passkey provider: a daemon that creates and
// holds passkeys and answers CTAP 2.1 and WebAuthn JSON requests, and the
// commands a person or a script uses with it.
package main

import (
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes one command line and returns the exit code: 0 success, 1 the
// operation failed, 2 usage error (DESIGN.md "Contracts").
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	return report(cmd, err)
}
