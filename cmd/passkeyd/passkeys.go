package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/spf13/cobra"
)

// shortIDLen is how many base64url characters of a credential ID the table shows.
const shortIDLen = 8

// passkey is one discoverable credential as credential management reports it.
type passkey struct {
	RPID            string     `json:"rpId"`
	RPName          string     `json:"rpName,omitempty"`
	CredentialID    string     `json:"credentialId"` // base64url, unpadded
	UserID          string     `json:"userId"`       // base64url, unpadded
	UserName        string     `json:"userName"`
	UserDisplayName string     `json:"userDisplayName"`
	Created         *time.Time `json:"created"`  // nil: the authenticator does not say
	LastUsed        *time.Time `json:"lastUsed"` // nil: never used, or not said
	CredProtect     string     `json:"credProtect"`
	PublicKey       string     `json:"publicKey,omitempty"` // base64url SubjectPublicKeyInfo DER
	LargeBlobKey    bool       `json:"largeBlobKey"`

	id     []byte
	userID []byte
}

// managed is a connection holding a credential management token.
type managed struct {
	*ctapConn
	tok *ctapclient.Token
}

// passkeyFlags are shared by every passkeys subcommand.
type passkeyFlags struct {
	usePIN bool
}

func newPasskeysCmd(d *dirs) *cobra.Command {
	f := &passkeyFlags{}
	cmd := &cobra.Command{
		Use:     "passkeys",
		Aliases: []string{"passkey"},
		Short:   "List, inspect, rename and delete stored passkeys",
		Long: `The passkeys commands manage discoverable credentials through CTAP 2.1
credential management on ctaphid.sock, so they work with any CTAP 2.1
authenticator on that socket, not only passkeyd.

Each command asks the user once: through the authenticator's built-in user
verification (passkeyd's --uv chain) by default, or with its PIN when --pin
is given. The PIN comes from the environment variable PASSKEYD_PIN, or is
asked for on the terminal; it is never a flag value.

A passkey is named by its credential ID in base64url, or by any prefix of it
that only one passkey has.`,
	}
	cmd.PersistentFlags().BoolVar(&f.usePIN, "pin", false, "verify with the authenticator's PIN (from PASSKEYD_PIN or the terminal) instead of its built-in user verification")
	cmd.AddCommand(newPasskeysListCmd(d, f), newPasskeysShowCmd(d, f), newPasskeysRenameCmd(d, f), newPasskeysDeleteCmd(d, f))
	return cmd
}

// openManaged connects and obtains a token with the credential management
// permission: the one user verification of the command.
func openManaged(ctx context.Context, cmd *cobra.Command, d *dirs, f *passkeyFlags) (*managed, error) {
	cc, err := dialCTAP(ctx, cmd, d)
	if err != nil {
		return nil, err
	}
	cm, _ := cc.option("credMgmt")
	if !cm {
		cc.Close()
		return nil, errors.New("the authenticator does not support credential management")
	}
	tok, err := cc.token(ctx, cmd, f.usePIN, ctap.PermCredMgmt)
	if err != nil {
		cc.Close()
		return nil, err
	}
	return &managed{ctapConn: cc, tok: tok}, nil
}

// all enumerates every discoverable credential, sorted by RP, user name,
// creation and ID.
func (m *managed) all(ctx context.Context) ([]passkey, error) {
	rps, err := m.c.RPs(ctx, m.tok)
	if err != nil {
		return nil, describeCTAP(err)
	}
	var out []passkey
	for _, rp := range rps {
		creds, err := m.c.Credentials(ctx, m.tok, rp.RPIDHash)
		if err != nil {
			return nil, describeCTAP(err)
		}
		for _, c := range creds {
			out = append(out, toPasskey(rp.RP, c))
		}
	}
	sortPasskeys(out)
	return out, nil
}

func sortPasskeys(ps []passkey) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.RPID != b.RPID {
			return a.RPID < b.RPID
		}
		if a.UserName != b.UserName {
			return a.UserName < b.UserName
		}
		if ta, tb := unixOf(a.Created), unixOf(b.Created); ta != tb {
			return ta < tb
		}
		return a.CredentialID < b.CredentialID
	})
}

func unixOf(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

// toPasskey turns one enumerateCredentials answer into a passkey.
func toPasskey(rp *ctap.RPEntity, c *ctap.CredMgmtResponse) passkey {
	p := passkey{CredProtect: credProtectName(c.CredProtect), LargeBlobKey: len(c.LargeBlobKey) > 0,
		Created: unixTime(c.Created), LastUsed: unixTime(c.LastUsed)}
	if rp != nil {
		p.RPID, p.RPName = rp.ID, rp.Name
	}
	if c.CredentialID != nil {
		p.id = c.CredentialID.ID
		p.CredentialID = b64(p.id)
	}
	if c.User != nil {
		p.userID, p.UserName, p.UserDisplayName = c.User.ID, c.User.Name, c.User.DisplayName
		p.UserID = b64(p.userID)
	}
	if c.PublicKey != nil {
		if pub, err := c.PublicKey.ECDSA(); err == nil {
			if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
				p.PublicKey = b64(der)
			}
		}
	}
	return p
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unixTime(sec int64) *time.Time {
	if sec <= 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// credProtectName is the WebAuthn name of a credProtect level (CTAP 2.1 §12.1).
func credProtectName(level uint) string {
	switch level {
	case 0, 1:
		return "userVerificationOptional"
	case 2:
		return "userVerificationOptionalWithCredentialIDList"
	case 3:
		return "userVerificationRequired"
	}
	return fmt.Sprintf("unknown (%d)", level)
}

// resolve finds the one passkey whose base64url credential ID is or begins
// with prefix.
func resolve(all []passkey, prefix string) (passkey, error) {
	return resolvePrefix(all, func(p passkey) string { return p.CredentialID }, prefix, "passkey")
}

// resolvePrefix finds the one item whose base64url credential ID (given by
// id) is prefix, or the only one that begins with it. noun names the items
// in messages.
func resolvePrefix[T any](items []T, id func(T) string, prefix, noun string) (T, error) {
	var zero T
	prefix = strings.TrimRight(strings.TrimSpace(prefix), "=")
	if prefix == "" {
		return zero, usagef("an empty credential ID names no %s", noun)
	}
	var found []T
	for _, it := range items {
		if id(it) == prefix {
			return it, nil
		}
		if strings.HasPrefix(id(it), prefix) {
			found = append(found, it)
		}
	}
	switch len(found) {
	case 0:
		return zero, fmt.Errorf("no %s has a credential ID beginning with %q", noun, prefix)
	case 1:
		return found[0], nil
	}
	return zero, fmt.Errorf("%q is ambiguous: %d %ss have a credential ID beginning with it; give more characters", prefix, len(found), noun)
}

// resolveAll resolves every prefix before anything is changed.
func resolveAll(all []passkey, prefixes []string) ([]passkey, error) {
	var out []passkey
	seen := map[string]bool{}
	for _, pre := range prefixes {
		p, err := resolve(all, pre)
		if err != nil {
			return nil, err
		}
		if !seen[p.CredentialID] {
			seen[p.CredentialID] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// withManaged runs fn with a managed connection that is closed afterwards.
func withManaged(cmd *cobra.Command, d *dirs, f *passkeyFlags, fn func(context.Context, *managed) error) error {
	ctx, cancel := requestContext()
	defer cancel()
	m, err := openManaged(ctx, cmd, d, f)
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(ctx, m)
}

func newPasskeysListCmd(d *dirs, f *passkeyFlags) *cobra.Command {
	var rp string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the discoverable passkeys",
		Long: `list shows every discoverable passkey (resident key): relying party, user
name, display name, when it was created and last used, and the first 8
characters of its credential ID. --json gives full IDs and public keys.

Passkeys that are not discoverable (server-side credentials, registered with
residentKey "discouraged") cannot be enumerated through CTAP and are not
listed: their credential ID is kept by the relying party alone.

Created and last used are passkeyd extensions to CTAP credential management;
other authenticators show "-".`,
		Example: `  passkeyd passkeys list
  passkeyd passkeys list --rp example.com --json
  PASSKEYD_PIN=1234 passkeyd passkeys list --pin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManaged(cmd, d, f, func(ctx context.Context, m *managed) error {
				all, err := m.all(ctx)
				if err != nil {
					return err
				}
				all = filterRP(all, rp)
				if asJSON {
					return printJSON(cmd.OutOrStdout(), nonNil(all))
				}
				printPasskeyTable(cmd.OutOrStdout(), all)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&rp, "rp", "", "only the passkeys of this relying party ID")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, with full credential IDs")
	return cmd
}

func filterRP(all []passkey, rp string) []passkey {
	if rp == "" {
		return all
	}
	var out []passkey
	for _, p := range all {
		if p.RPID == rp {
			out = append(out, p)
		}
	}
	return out
}

// nonNil makes an empty list print as [] rather than null.
func nonNil(ps []passkey) []passkey {
	if ps == nil {
		return []passkey{}
	}
	return ps
}

func printPasskeyTable(w io.Writer, all []passkey) {
	if len(all) == 0 {
		fmt.Fprintln(w, "No passkeys.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RP\tUSER\tDISPLAY NAME\tCREATED\tLAST USED\tID")
	for _, p := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.RPID, dash(p.UserName), dash(p.UserDisplayName),
			shortTime(p.Created), shortTime(p.LastUsed), shortID(p.CredentialID))
	}
	tw.Flush()
}

func shortID(id string) string { return id[:min(len(id), shortIDLen)] }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortTime is a time in the table: local, to the minute; "-" when unknown.
func shortTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// longTime is a time in show: local with its zone; "-" when unknown.
func longTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func newPasskeysShowCmd(d *dirs, f *passkeyFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one passkey in full",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManaged(cmd, d, f, func(ctx context.Context, m *managed) error {
				all, err := m.all(ctx)
				if err != nil {
					return err
				}
				p, err := resolve(all, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), p)
				}
				printPasskey(cmd.OutOrStdout(), p)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printPasskey(w io.Writer, p passkey) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"relying party", p.RPID}, {"rp name", dash(p.RPName)},
		{"user name", dash(p.UserName)}, {"display name", dash(p.UserDisplayName)},
		{"user handle", p.UserID}, {"credential ID", p.CredentialID},
		{"created", longTime(p.Created)}, {"last used", longTime(p.LastUsed)},
		{"credProtect", p.CredProtect}, {"largeBlobKey", map[bool]string{true: "yes", false: "no"}[p.LargeBlobKey]},
		{"public key", dash(p.PublicKey)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func newPasskeysRenameCmd(d *dirs, f *passkeyFlags) *cobra.Command {
	var name, display string
	cmd := &cobra.Command{
		Use:   "rename ID [--name NAME] [--display-name NAME]",
		Short: "Change the user name or display name of a passkey",
		Long: `rename changes the user name and display name stored with a passkey
(CTAP 2.1 updateUserInformation). The user handle and the key stay the same,
so the relying party still recognises the passkey. A flag that is not given
keeps its value; an empty value clears it.`,
		Example: `  passkeyd passkeys rename Xk3f9QaB --display-name "Alice (work)"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nameSet, displaySet := cmd.Flags().Changed("name"), cmd.Flags().Changed("display-name")
			if !nameSet && !displaySet {
				return usagef("give --name, --display-name or both")
			}
			return withManaged(cmd, d, f, func(ctx context.Context, m *managed) error {
				all, err := m.all(ctx)
				if err != nil {
					return err
				}
				p, err := resolve(all, args[0])
				if err != nil {
					return err
				}
				user := ctap.UserEntity{ID: p.userID, Name: p.UserName, DisplayName: p.UserDisplayName}
				if nameSet {
					user.Name = name
				}
				if displaySet {
					user.DisplayName = display
				}
				if err := m.c.UpdateUser(ctx, m.tok, p.id, user); err != nil {
					return describeCTAP(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Renamed %s (%s): user name %q, display name %q.\n",
					shortID(p.CredentialID), p.RPID, user.Name, user.DisplayName)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the new user name (user.name)")
	cmd.Flags().StringVar(&display, "display-name", "", "the new display name (user.displayName)")
	return cmd
}

func newPasskeysDeleteCmd(d *dirs, f *passkeyFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete ID...",
		Aliases: []string{"rm"},
		Short:   "Delete passkeys",
		Long: `delete removes passkeys from the authenticator for good: the relying party
can no longer sign you in with them. All IDs are resolved before anything is
deleted. On a terminal it asks for confirmation; scripts pass --yes.`,
		Example: `  passkeyd passkeys delete Xk3f9QaB
  passkeyd passkeys delete --yes Xk3f9QaB pQ7rT2mN`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needYes(cmd, yes); err != nil {
				return err
			}
			return withManaged(cmd, d, f, func(ctx context.Context, m *managed) error {
				all, err := m.all(ctx)
				if err != nil {
					return err
				}
				doomed, err := resolveAll(all, args)
				if err != nil {
					return err
				}
				if err := confirmOrYes(cmd, yes, deleteQuestion(doomed)); err != nil {
					return err
				}
				return m.deleteAll(ctx, cmd.OutOrStdout(), doomed)
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func deleteQuestion(doomed []passkey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Delete %d %s for good?\n", len(doomed), plural(len(doomed), "passkey", "passkeys"))
	for _, p := range doomed {
		fmt.Fprintf(&b, "  %s  %s  %s\n", shortID(p.CredentialID), p.RPID, dash(p.UserName))
	}
	b.WriteString("The relying parties will no longer accept them. Continue?")
	return b.String()
}

func (m *managed) deleteAll(ctx context.Context, w io.Writer, doomed []passkey) error {
	for i, p := range doomed {
		if err := m.c.DeleteCredential(ctx, m.tok, p.id); err != nil {
			return fmt.Errorf("deleted %d of %d; %s (%s): %w", i, len(doomed), shortID(p.CredentialID), p.RPID, describeCTAP(err))
		}
		fmt.Fprintf(w, "Deleted %s (%s, %s).\n", shortID(p.CredentialID), p.RPID, dash(p.UserName))
	}
	return nil
}
