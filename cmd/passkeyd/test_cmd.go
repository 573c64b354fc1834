package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/spf13/cobra"
)

// passkeyd test: the client of api.sock's /v1/test/ routes (docs/api.md
// "Test controls", docs/testing.md).

// testCredential is a credential as /v1/test/credentials answers it
// (WebDriver's Credential Parameters, byte strings base64url).
type testCredential struct {
	CredentialID         string `json:"credentialId"`
	IsResidentCredential bool   `json:"isResidentCredential"`
	RPID                 string `json:"rpId"`
	PrivateKey           string `json:"privateKey,omitempty"`
	UserHandle           string `json:"userHandle,omitempty"`
	SignCount            uint32 `json:"signCount"`
	BackupEligibility    bool   `json:"backupEligibility"`
	BackupState          bool   `json:"backupState"`
	UserName             string `json:"userName,omitempty"`
	UserDisplayName      string `json:"userDisplayName,omitempty"`
	PublicKey            string `json:"publicKey,omitempty"` // add-credential only: SPKI DER, for the relying party
}

// testFault is a fault as /v1/test/faults answers it.
type testFault struct {
	ID          int    `json:"id"`
	Kind        string `json:"kind"`
	Op          string `json:"op"`
	Count       int    `json:"count"`
	Status      string `json:"status,omitempty"`
	CredmanCode string `json:"credmanCode,omitempty"`
	Delay       string `json:"delay,omitempty"`
}

func newTestCmd(d *dirs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Test controls: add passkeys, script verification, inject faults, watch events",
		Long: `test drives the test controls of a daemon started with --test-controls:
the WebDriver virtual-authenticator operations (add, list and remove
credentials, set their BE, BS and counter, script the user's answer), faults
injected into the next operations, and a stream of events.

They act without asking anyone, so a daemon serves them only when started
with 'passkeyd serve --test-controls' (or PASSKEYD_TEST_CONTROLS=1).
docs/testing.md has a recipe per common test.`,
		Example: `  passkeyd serve --ephemeral --uv approve --test-controls &
  passkeyd test fault status --op create --status OPERATION_DENIED
  passkeyd test watch`,
	}
	cmd.AddCommand(newTestAddCredentialCmd(d), newTestCredentialsCmd(d), newTestRemoveCmd(d), newTestPropsCmd(d),
		newTestUVCmd(d), newTestFaultCmd(d), newTestFaultsCmd(d), newTestWatchCmd(d))
	return cmd
}

// testCall sends one request to the test controls.
func testCall(d *dirs, method, path string, in, out any) error {
	ctx, cancel := requestContext()
	defer cancel()
	return describeAPIError(newAPIClient(d).do(ctx, method, path, in, out))
}

// ---- add-credential ----

type addCredentialFlags struct {
	rp, keyFile, id, userHandle, userName, displayName string
	generate, resident, be, bs, json                   bool
	signCount                                          uint32
}

func newTestAddCredentialCmd(d *dirs) *cobra.Command {
	f := &addCredentialFlags{}
	cmd := &cobra.Command{
		Use:   "add-credential --rp RPID (--key FILE | --generate)",
		Short: "Store a passkey made elsewhere (WebDriver Add Credential)",
		Long: `add-credential stores a passkey whose private key you give (a PKCS#8 file,
PEM or DER, P-256; a SEC1 "EC PRIVATE KEY" PEM is converted) or that is
generated here (--generate). It prints the credential and its public key
(SPKI, base64url), which a relying party's test fixture can register.

A resident (discoverable) credential needs a user handle: without
--user-handle a random one is made.`,
		Example: `  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem
  passkeyd test add-credential --rp example.com --key key.pem --user-name alice --sign-count 41
  passkeyd test add-credential --rp example.com --generate --be --bs --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return addCredential(cmd, d, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rp, "rp", "", "the relying party ID (required)")
	fl.StringVar(&f.keyFile, "key", "", "the private key: a PKCS#8 file, PEM or DER, P-256")
	fl.BoolVar(&f.generate, "generate", false, "generate a new P-256 key instead of --key")
	fl.StringVar(&f.id, "id", "", "the credential ID, base64url, 16 bytes or more (default: 32 random bytes)")
	fl.BoolVar(&f.resident, "resident", true, "a resident (discoverable) credential")
	fl.StringVar(&f.userHandle, "user-handle", "", "the user handle, base64url (default for a resident credential: 16 random bytes)")
	fl.StringVar(&f.userName, "user-name", "", "the user name")
	fl.StringVar(&f.displayName, "display-name", "", "the user's display name")
	fl.Uint32Var(&f.signCount, "sign-count", 0, "the signature counter")
	fl.BoolVar(&f.be, "be", false, "backup eligible (BE): a synced passkey")
	fl.BoolVar(&f.bs, "bs", false, "backed up (BS); needs --be")
	fl.BoolVar(&f.json, "json", false, "print the credential as JSON")
	return cmd
}

func addCredential(cmd *cobra.Command, d *dirs, f *addCredentialFlags) error {
	switch {
	case f.rp == "":
		return usagef("--rp is required (the relying party ID, e.g. example.com)")
	case (f.keyFile == "") == !f.generate:
		return usagef("give exactly one of --key FILE and --generate")
	}
	key, err := loadOrGenerateKey(f.keyFile)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	in := testCredential{CredentialID: f.id, IsResidentCredential: f.resident, RPID: f.rp, PrivateKey: b64(pkcs8),
		UserHandle: f.userHandle, SignCount: f.signCount, BackupEligibility: f.be, BackupState: f.bs,
		UserName: f.userName, UserDisplayName: f.displayName}
	if in.CredentialID == "" {
		in.CredentialID = b64(randomBytes(32))
	}
	if in.UserHandle == "" && f.resident {
		in.UserHandle = b64(randomBytes(16))
	}
	var out testCredential
	if err := testCall(d, "POST", "/v1/test/credentials", in, &out); err != nil {
		return err
	}
	out.PublicKey = b64(spki)
	if f.json {
		return printJSON(cmd.OutOrStdout(), out)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Added credential %s at %s (user %s, handle %s, counter %d, BE %t, BS %t).\n", out.CredentialID,
		out.RPID, dash(out.UserName), dash(out.UserHandle), out.SignCount, out.BackupEligibility, out.BackupState)
	fmt.Fprintf(w, "Public key (SPKI, base64url): %s\n", out.PublicKey)
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// loadOrGenerateKey reads a P-256 private key (PKCS#8 PEM or DER, or SEC1
// PEM), or makes one when path is empty.
func loadOrGenerateKey(path string) (*ecdsa.PrivateKey, error) {
	if path == "" {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key: %w", err)
	}
	der := data
	sec1 := false
	if block, _ := pem.Decode(data); block != nil {
		der, sec1 = block.Bytes, block.Type == "EC PRIVATE KEY"
	}
	var k any
	if sec1 {
		k, err = x509.ParseECPrivateKey(der)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a PKCS#8 private key (PEM or DER): %v", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s is not an ECDSA P-256 key, the only kind WebDriver credentials have", path)
	}
	return ek, nil
}

// ---- credentials ----

func newTestCredentialsCmd(d *dirs) *cobra.Command {
	var keys, asJSON bool
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "List every credential, as the test controls see them (WebDriver Get Credentials)",
		Long: `credentials lists every stored credential with its relying party, user,
counter and backup flags, without asking anyone. --keys adds the private keys
(PKCS#8, base64url) and implies --json; the daemon reveals them only when
started with --allow-export and the memory keystore.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := listTestCredentials(d, keys)
			if err != nil {
				return err
			}
			if asJSON || keys {
				return printJSON(cmd.OutOrStdout(), creds)
			}
			printTestCredentials(cmd.OutOrStdout(), creds)
			return nil
		},
	}
	cmd.Flags().BoolVar(&keys, "keys", false, "include the private keys (needs a daemon started with --allow-export); implies --json")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func listTestCredentials(d *dirs, keys bool) ([]testCredential, error) {
	path := "/v1/test/credentials"
	if keys {
		path += "?keys=1"
	}
	var out struct{ Credentials []testCredential }
	if err := testCall(d, "GET", path, nil, &out); err != nil {
		return nil, err
	}
	if out.Credentials == nil {
		out.Credentials = []testCredential{}
	}
	slices.SortFunc(out.Credentials, func(a, b testCredential) int {
		return cmp.Or(cmp.Compare(a.RPID, b.RPID), cmp.Compare(a.UserName, b.UserName), cmp.Compare(a.CredentialID, b.CredentialID))
	})
	return out.Credentials, nil
}

func printTestCredentials(w io.Writer, creds []testCredential) {
	if len(creds) == 0 {
		fmt.Fprintln(w, "No credentials.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RP\tUSER\tRESIDENT\tCOUNTER\tBE\tBS\tID")
	for _, c := range creds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.RPID, dash(c.UserName), boolWord(c.IsResidentCredential),
			c.SignCount, boolWord(c.BackupEligibility), boolWord(c.BackupState), c.CredentialID)
	}
	tw.Flush()
}

func boolWord(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }

// resolveTestCredential finds the one credential whose ID is or begins with prefix.
func resolveTestCredential(d *dirs, prefix string) (testCredential, error) {
	if strings.TrimSpace(prefix) == "" {
		return testCredential{}, usagef("an empty credential ID names no credential")
	}
	creds, err := listTestCredentials(d, false)
	if err != nil {
		return testCredential{}, err
	}
	return resolvePrefix(creds, func(c testCredential) string { return c.CredentialID }, prefix, "credential")
}

// ---- remove ----

func newTestRemoveCmd(d *dirs) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "remove (ID | --all)",
		Short: "Remove a credential, or all of them, without asking (WebDriver Remove Credential)",
		Long: `remove deletes one credential, named by its base64url ID or a unique
beginning of it, or every credential with --all. Nobody is asked.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return usagef("give a credential ID or --all")
			}
			if all {
				if err := testCall(d, "DELETE", "/v1/test/credentials", nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Removed every credential.")
				return nil
			}
			c, err := resolveTestCredential(d, args[0])
			if err != nil {
				return err
			}
			if err := testCall(d, "DELETE", "/v1/test/credentials/"+c.CredentialID, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed credential %s (%s, %s).\n", c.CredentialID, c.RPID, dash(c.UserName))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every credential")
	return cmd
}

// ---- props ----

func newTestPropsCmd(d *dirs) *cobra.Command {
	var be, bs, asJSON bool
	var signCount uint32
	cmd := &cobra.Command{
		Use:   "props ID [--be=true|false] [--bs=true|false] [--sign-count N]",
		Short: "Set a credential's BE, BS and counter (WebDriver Set Credential Properties)",
		Long: `props changes the backup eligibility (BE), backup state (BS) and signature
counter of a credential, named by its ID or a unique beginning of it. A
counter never goes back: to show a relying party a lower counter, inject a
counter-lowered fault ('passkeyd test fault counter-lowered --op get').`,
		Example: `  passkeyd test props Xy3f --bs=true
  passkeyd test props Xy3f --sign-count 1000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			props := map[string]any{}
			fl := cmd.Flags()
			if fl.Changed("be") {
				props["backupEligibility"] = be
			}
			if fl.Changed("bs") {
				props["backupState"] = bs
			}
			if fl.Changed("sign-count") {
				props["signCount"] = signCount
			}
			if len(props) == 0 {
				return usagef("give at least one of --be, --bs and --sign-count")
			}
			c, err := resolveTestCredential(d, args[0])
			if err != nil {
				return err
			}
			var out testCredential
			if err := testCall(d, "POST", "/v1/test/credentials/"+c.CredentialID+"/props", props, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Credential %s: counter %d, BE %t, BS %t.\n", out.CredentialID, out.SignCount,
				out.BackupEligibility, out.BackupState)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&be, "be", false, "backup eligible (BE)")
	fl.BoolVar(&bs, "bs", false, "backed up (BS); needs BE")
	fl.Uint32Var(&signCount, "sign-count", 0, "the signature counter (never lower than it is)")
	fl.BoolVar(&asJSON, "json", false, "print the credential as JSON")
	return cmd
}

// ---- uv ----

func newTestUVCmd(d *dirs) *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "uv (verified | denied | clear)",
		Short: "Script the user's answer to verification (WebDriver Set User Verified)",
		Long: `uv decides the outcome of user verification without asking anyone: verified
approves, denied refuses (the client sees OPERATION_DENIED, a browser
NotAllowedError). --count N applies to the next N verifications only;
without it, to every verification until 'passkeyd test uv clear' gives the
decision back to the daemon's --uv methods.`,
		Example: `  passkeyd test uv denied --count 1     # the next operation is refused
  passkeyd test uv verified             # approve everything, no prompt
  passkeyd test uv clear`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"verified", "denied", "clear"},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if count < 0 {
				return usagef("--count %d: want 1 or more", count)
			}
			switch args[0] {
			case "clear":
				if cmd.Flags().Changed("count") {
					return usagef("uv clear takes no --count")
				}
				if err := testCall(d, "DELETE", "/v1/test/uv", nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(w, "User verification is back to the daemon's --uv methods.")
				return nil
			case "verified", "denied":
			default:
				return usagef("uv %q: want verified, denied or clear", args[0])
			}
			verified := args[0] == "verified"
			body := map[string]any{"isUserVerified": verified, "count": count}
			if err := testCall(d, "POST", "/v1/test/uv", body, nil); err != nil {
				return err
			}
			answer := map[bool]string{true: "approved", false: "denied"}[verified]
			if count == 0 {
				fmt.Fprintf(w, "Every verification will be %s, until 'passkeyd test uv clear'.\n", answer)
			} else {
				fmt.Fprintf(w, "The next %d verification(s) will be %s.\n", count, answer)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 0, "only the next N verifications (default: all until cleared)")
	return cmd
}

// ---- fault, faults ----

func newTestFaultCmd(d *dirs) *cobra.Command {
	var op, status, code, delay string
	var count int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fault KIND --op create|get|any [--count N] [--status NAME] [--code CODE] [--delay D]",
		Short: "Make the next operations misbehave",
		Long: `fault queues a misbehaviour for the next N operations of a kind (create:
registration, get: sign-in, any: both). Each use is logged by the daemon
and reported on 'passkeyd test watch'; then the fault is gone. The kinds:

  status                 answer the CTAP status --status (e.g. OPERATION_DENIED)
  credman-error          answer the api.sock error --code (e.g. not_allowed)
  bogus-signature        a signature that does not verify
  uv-cleared             the UV flag cleared (the signature is valid)
  up-cleared             the UP flag cleared (the signature is valid)
  counter-not-increased  the previous counter again
  counter-lowered        a counter below the previous one
  wrong-rpid-hash        authenticatorData names another relying party
  delay                  wait --delay, then answer normally
  verification-timeout   the user never answers: USER_ACTION_TIMEOUT`,
		Example: `  passkeyd test fault status --op create --status OPERATION_DENIED
  passkeyd test fault counter-lowered --op get
  passkeyd test fault delay --op any --count 3 --delay 2s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if op == "" {
				return usagef("--op is required: create, get or any")
			}
			if count < 1 {
				return usagef("--count %d: want 1 or more", count)
			}
			in := map[string]any{"kind": args[0], "op": op, "count": count}
			for k, v := range map[string]string{"status": status, "credmanCode": code, "delay": delay} {
				if v != "" {
					in[k] = v
				}
			}
			var f testFault
			if err := testCall(d, "POST", "/v1/test/faults", in, &f); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), f)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Fault %d queued: %s for the next %d %s operation(s).\n", f.ID, describeFault(f), f.Count, f.Op)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&op, "op", "", "the operations it applies to: create, get or any (required)")
	fl.IntVar(&count, "count", 1, "how many operations it applies to")
	fl.StringVar(&status, "status", "", "status: the CTAP status, by name (OPERATION_DENIED) or number (0x27)")
	fl.StringVar(&code, "code", "", "credman-error: the api.sock error code (not_allowed, timeout, ...)")
	fl.StringVar(&delay, "delay", "", "delay: how long to wait (250ms, 2s)")
	fl.BoolVar(&asJSON, "json", false, "print the fault as JSON")
	return cmd
}

func describeFault(f testFault) string {
	detail := ""
	switch {
	case f.Status != "":
		detail = " " + f.Status
	case f.CredmanCode != "":
		detail = " " + f.CredmanCode
	case f.Delay != "":
		detail = " " + f.Delay
	}
	return f.Kind + detail
}

func newTestFaultsCmd(d *dirs) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "faults [clear]",
		Short: "List the faults still queued, or clear them",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				if args[0] != "clear" {
					return usagef("faults %q: the only subcommand is clear", args[0])
				}
				if err := testCall(d, "DELETE", "/v1/test/faults", nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(w, "No faults queued.")
				return nil
			}
			var out struct{ Faults []testFault }
			if err := testCall(d, "GET", "/v1/test/faults", nil, &out); err != nil {
				return err
			}
			if asJSON {
				if out.Faults == nil {
					out.Faults = []testFault{}
				}
				return printJSON(w, out.Faults)
			}
			if len(out.Faults) == 0 {
				fmt.Fprintln(w, "No faults queued.")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFAULT\tOP\tLEFT")
			for _, f := range out.Faults {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", f.ID, describeFault(f), f.Op, f.Count)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// ---- watch ----

func newTestWatchCmd(d *dirs) *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print the provider's events as JSON lines until interrupted",
		Long: `watch prints one JSON object per line for each event: credential-added,
credential-asserted (with the signCount reported), credential-deleted,
credential-updated, verification (operation and outcome) and fault-injected.
The first line, {"type":"subscribed"}, says that every later event will be
seen. It runs until interrupted (exit 0), until --count events were
printed, or until the daemon stops (exit 1).`,
		Example: `  passkeyd test watch | jq -c 'select(.type == "credential-asserted") | {rpId, signCount}'
  passkeyd test watch --count 1 > event.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return usagef("--count %d: want 1 or more", count)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return watchEvents(ctx, newAPIClient(d), cmd.OutOrStdout(), count)
		},
	}
	cmd.Flags().IntVar(&count, "count", 0, "stop after N events (not counting the subscribed line)")
	return cmd
}

// watchEvents copies /v1/test/events to w, line by line, until ctx ends,
// max events were copied (0: no limit) or the stream ends.
func watchEvents(ctx context.Context, c *apiClient, w io.Writer, max int) error {
	body, err := c.stream(ctx, "/v1/test/events")
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted before the stream began
		}
		return describeAPIError(err)
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := 0
	for sc.Scan() {
		if _, err := fmt.Fprintf(w, "%s\n", sc.Bytes()); err != nil {
			return err
		}
		var e struct{ Type string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type != "subscribed" {
			seen++
		}
		if max > 0 && seen >= max {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the event stream broke: %v", err)
	}
	return errors.New("the event stream ended: the daemon stopped")
}

// stream opens a streaming GET on api.sock; the caller closes the body.
func (c *apiClient) stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://passkeyd"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if _, serr := os.Stat(c.sock); serr != nil || isRefused(err) {
			return nil, errNotRunning(filepath.Dir(c.sock))
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	var e struct{ Error *credman.Error }
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &e) == nil && e.Error != nil {
		return nil, e.Error
	}
	return nil, fmt.Errorf("api.sock answered %s", resp.Status)
}
