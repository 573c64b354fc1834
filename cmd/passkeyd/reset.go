package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/spf13/cobra"
)

const resetQuestion = `This deletes every passkey on the authenticator, and its PIN, for good.
Relying parties will no longer accept those passkeys. Continue?`

func newResetCmd(d *dirs) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Delete every passkey and the PIN (authenticatorReset)",
		Long: `reset sends CTAP 2.1 authenticatorReset to the authenticator on ctaphid.sock.
Every passkey, the PIN, large blobs and settings are gone afterwards; the
provider switch stays as it was. It asks for confirmation on a terminal
(scripts pass --yes); then the authenticator asks the user itself (passkeyd
through its user verification chain).`,
		Example: "  passkeyd reset\n  passkeyd reset --yes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needYes(cmd, yes); err != nil {
				return err
			}
			return withCTAP(cmd, d, func(ctx context.Context, cc *ctapConn) error {
				if err := confirmOrYes(cmd, yes, resetQuestion); err != nil {
					return err
				}
				return reset(ctx, cmd, cc)
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func reset(ctx context.Context, cmd *cobra.Command, cc *ctapConn) error {
	err := cc.c.Reset(ctx)
	if errors.Is(err, ctap.ErrNotAllowed) {
		return errors.New("the authenticator refused to reset: a USB key allows it only within seconds of being plugged in")
	}
	if err != nil {
		return describeCTAP(err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "The authenticator was reset: no passkeys, no PIN.")
	return nil
}
