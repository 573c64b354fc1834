package main

import (
	"fmt"
	"runtime/debug"
	"text/tabwriter"

	"github.com/passkeyd/passkeyd/internal/api"
	"github.com/spf13/cobra"
)

func newStatusCmd(d *dirs) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the daemon runs, and how it is set up",
		Long:  "status shows the daemon's keystore, user verification, attestation and counts.\nIts exit code is 0 when the daemon is running and 1 when it is not.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := requestContext()
			defer cancel()
			var st api.Status
			if err := newAPIClient(d).do(ctx, "GET", "/v1/status", nil, &st); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd, st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(cmd *cobra.Command, st api.Status) {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	on := map[bool]string{true: "enabled", false: "disabled (passkeyd provider enable)"}
	uv := st.UV
	if st.Unattended {
		uv += "  (no person is asked)"
	}
	rows := [][2]string{
		{"daemon", "running, version " + st.Version}, {"provider", on[st.Enabled]},
		{"keystore", st.Keystore}, {"user verification", uv},
		{"attestation", st.Attestation}, {"profile", st.Profile}, {"aaguid", st.AAGUID},
		{"passkeys", fmt.Sprintf("%d for %d relying parties", st.Credentials, st.RPs)},
		{"virtual USB key", st.UHID}, {"state dir", st.StateDir}, {"runtime dir", st.RuntimeDir},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
	}
	w.Flush()
}

func newProviderCmd(d *dirs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provider",
		Short: `Turn the provider on or off (Android's "Additional providers" switch)`,
		Long: `A disabled provider still answers GetInfo and status, and refuses every
registration and sign-in without asking the user, saying why. Passkeys stay
stored and manageable.`,
	}
	for _, sub := range []struct{ name, short, method, path string }{
		{"enable", "Turn the provider on", "POST", "/v1/provider/enable"},
		{"disable", "Turn the provider off", "POST", "/v1/provider/disable"},
		{"status", "Say whether the provider is on", "GET", "/v1/provider"},
	} {
		cmd.AddCommand(&cobra.Command{Use: sub.name, Short: sub.short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ctx, cancel := requestContext()
				defer cancel()
				var st struct{ Enabled bool }
				if err := newAPIClient(d).do(ctx, sub.method, sub.path, nil, &st); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), map[bool]string{true: "enabled", false: "disabled"}[st.Enabled])
				return nil
			}})
	}
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(cmd.OutOrStdout(), "passkeyd %s\n", v)
		},
	}
}
