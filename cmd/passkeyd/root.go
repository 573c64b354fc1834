package main

import (
	"github.com/spf13/cobra"
)

func newRoot() *cobra.Command {
	d := &dirs{}
	root := &cobra.Command{
		Use:   "passkeyd",
		Short: "A software passkey provider: passkeys without a phone",
		Long: `passkeyd creates and holds ES256 passkeys, asks the user to verify before every
operation, and answers CTAP 2.1 (ctaphid.sock, a virtual USB key) and WebAuthn
JSON requests (api.sock), like an Android "additional provider" app.

Start the daemon with 'passkeyd serve'; the other commands talk to it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	d.addFlags(root)
	root.AddCommand(newServeCmd(d), newStatusCmd(d), newProviderCmd(d), newWebAuthnCmd(d), newVersionCmd(),
		newPasskeysCmd(d), newPINCmd(d), newResetCmd(d), newAttestationCmd(d), newGenDocsCmd(), newBenchCmd(d), newDecodeCmd(), newTestCmd(d))
	return root
}
