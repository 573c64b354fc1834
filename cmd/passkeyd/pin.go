package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newPINCmd(d *dirs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Set, change or inspect the authenticator's PIN",
		Long: `The pin commands speak CTAP 2.1 ClientPIN (PIN/UV auth protocol 2) to the
authenticator on ctaphid.sock. For passkeyd the PIN is also the screen-lock
PIN its "pin" user verification method asks for: one secret, stored only as a
slow salted hash.

PINs are read from the terminal without echo, or from PASSKEYD_PIN (the
current PIN) and PASSKEYD_NEW_PIN (the new one) in scripts; never from flags.`,
	}
	cmd.AddCommand(newPINSetCmd(d), newPINChangeCmd(d), newPINStatusCmd(d))
	return cmd
}

// withCTAP runs fn with a connection that is closed afterwards.
func withCTAP(cmd *cobra.Command, d *dirs, fn func(context.Context, *ctapConn) error) error {
	ctx, cancel := requestContext()
	defer cancel()
	cc, err := dialCTAP(ctx, cmd, d)
	if err != nil {
		return err
	}
	defer cc.Close()
	return fn(ctx, cc)
}

// pinState says whether the authenticator has a PIN, and whether it can have one.
func (cc *ctapConn) pinState() (set bool, err error) {
	set, supported := cc.option("clientPin")
	if !supported {
		return false, errors.New("the authenticator does not support a PIN")
	}
	return set, nil
}

// needPIN refuses when the PIN is not in the state the command needs.
func (cc *ctapConn) needPIN(want bool) error {
	set, err := cc.pinState()
	switch {
	case err != nil:
		return err
	case set && !want:
		return errors.New("a PIN is already set; change it with: passkeyd pin change")
	case !set && want:
		return errors.New("no PIN is set; set one with: passkeyd pin set")
	}
	return nil
}

func newPINSetCmd(d *dirs) *cobra.Command {
	return &cobra.Command{
		Use:     "set",
		Short:   "Set the first PIN",
		Example: "  passkeyd pin set\n  PASSKEYD_NEW_PIN=123456 passkeyd pin set",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCTAP(cmd, d, func(ctx context.Context, cc *ctapConn) error {
				if err := cc.needPIN(false); err != nil {
					return err
				}
				pr, err := cc.protocol()
				if err != nil {
					return err
				}
				pin, err := readNewPIN(cmd, envNewPIN)
				if err != nil {
					return err
				}
				if err := cc.c.SetPIN(ctx, pr, pin); err != nil {
					return describeCTAP(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "PIN set.")
				return nil
			})
		},
	}
}

func newPINChangeCmd(d *dirs) *cobra.Command {
	return &cobra.Command{
		Use:     "change",
		Short:   "Change the PIN",
		Example: "  passkeyd pin change\n  PASSKEYD_PIN=123456 PASSKEYD_NEW_PIN=654321 passkeyd pin change",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCTAP(cmd, d, func(ctx context.Context, cc *ctapConn) error {
				if err := cc.needPIN(true); err != nil {
					return err
				}
				return changePIN(ctx, cmd, cc)
			})
		},
	}
}

func changePIN(ctx context.Context, cmd *cobra.Command, cc *ctapConn) error {
	pr, err := cc.protocol()
	if err != nil {
		return err
	}
	old, err := readSecret(cmd, envPIN, "Current PIN: ")
	if err != nil {
		return err
	}
	pin, err := readNewPIN(cmd, envNewPIN)
	if err != nil {
		return err
	}
	if err := cc.c.ChangePIN(ctx, pr, old, pin); err != nil {
		return cc.describePINError(ctx, err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "PIN changed.")
	return nil
}

// pinStatus is what pin status reports.
type pinStatus struct {
	Set         bool `json:"set"`
	Retries     *int `json:"retries,omitempty"` // attempts left before the PIN blocks; only when set
	MinLength   uint `json:"minLength"`
	ForceChange bool `json:"forceChange"`
}

func newPINStatusCmd(d *dirs) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether a PIN is set and how many attempts are left",
		Long:  "status asks nobody to verify: whether a PIN is set and the retry count are public.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCTAP(cmd, d, func(ctx context.Context, cc *ctapConn) error {
				st, err := cc.pinStatus(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), st)
				}
				printPINStatus(cmd.OutOrStdout(), st)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (cc *ctapConn) pinStatus(ctx context.Context) (pinStatus, error) {
	set, err := cc.pinState()
	if err != nil {
		return pinStatus{}, err
	}
	// CTAP 2.1 §6.4: without minPINLength in GetInfo, the minimum is 4.
	st := pinStatus{Set: set, MinLength: max(cc.info.MinPINLength, 4), ForceChange: cc.info.ForcePINChange}
	if set {
		n, err := cc.c.PINRetries(ctx)
		if err != nil {
			return st, describeCTAP(err)
		}
		st.Retries = &n
	}
	return st, nil
}

func printPINStatus(w io.Writer, st pinStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	state := "not set (passkeyd pin set)"
	if st.Set {
		state = "set"
	}
	fmt.Fprintf(tw, "PIN:\t%s\n", state)
	if st.Retries != nil {
		left := fmt.Sprintf("%d", *st.Retries)
		if *st.Retries == 0 {
			left += " (blocked: only 'passkeyd reset' clears it)"
		}
		fmt.Fprintf(tw, "attempts left:\t%s\n", left)
	}
	fmt.Fprintf(tw, "minimum length:\t%d\n", st.MinLength)
	if st.ForceChange {
		fmt.Fprintf(tw, "must change:\tyes (passkeyd pin change)\n")
	}
	tw.Flush()
}
