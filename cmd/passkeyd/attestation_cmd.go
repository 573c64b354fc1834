package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/spf13/cobra"
)

// rootPEMFile is the root certificate InitCA writes into the CA directory.
const rootPEMFile = "root.pem"

func newAttestationCmd(d *dirs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attestation",
		Short: "Create and export the local attestation CA",
		Long: `passkeyd can prove what made a passkey with "packed" (x5c), "android-key" and
"tpm" attestation, signed by a local attestation CA kept in the state
directory (<state-dir>/attestation). Relying parties under test trust its
root certificate, which 'attestation export' prints.`,
	}
	cmd.AddCommand(newAttestationInitCmd(d), newAttestationExportCmd(d))
	return cmd
}

// caFlags say how attestation init seals the CA keys: the way serve seals
// passkeys, so that the daemon can open them.
type caFlags struct {
	keystore, tpm, passphraseEnv string
	aaguid                       string
	opts                         attestation.CAOptions
}

func newAttestationInitCmd(d *dirs) *cobra.Command {
	f := &caFlags{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the local attestation CA",
		Long: `init creates the local attestation CA in <state-dir>/attestation: a root
certificate, the packed attestation certificate (Subject-OU "Authenticator
Attestation", CA=false, the AAGUID extension) and an Android keystore
intermediate, each with a P-256 key. The keys are sealed the way 'passkeyd
serve' seals passkeys, so give the same --keystore (and --tpm or
--passphrase-env) as the daemon. An --ephemeral daemon cannot open sealed
keys: give it a --state-dir with a file keystore instead.

The daemon loads the CA when it starts: restart 'passkeyd serve' to use a new
one. Relying parties then trust the root that 'passkeyd attestation export'
prints; after --force, export and distribute the new root again.`,
		Example: `  passkeyd attestation init
  passkeyd attestation init --force --organization "Example Corp QA"
  passkeyd attestation export > passkeyd-root.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return initCA(cmd, d, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.opts.Force, "force", false, "replace an existing CA; passkeys keep working, but relying parties must trust the new root")
	fl.StringVar(&f.opts.Organization, "organization", "passkeyd", "Subject-O of the certificates: the vendor")
	fl.StringVar(&f.opts.Country, "country", "US", "Subject-C of the certificates, an ISO 3166 alpha-2 code")
	fl.StringVar(&f.opts.CommonName, "common-name", "passkeyd software passkey provider", "Subject-CN of the attestation certificate")
	fl.StringVar(&f.aaguid, "aaguid", envOr("PASSKEYD_AAGUID", attestation.FormatAAGUID(attestation.DefaultAAGUID)), "the AAGUID in the attestation certificate (env PASSKEYD_AAGUID)")
	fl.StringVar(&f.keystore, "keystore", envOr("PASSKEYD_KEYSTORE", "file"), "how the daemon seals keys: file, keyring or tpm (env PASSKEYD_KEYSTORE)")
	fl.StringVar(&f.tpm, "tpm", envOr("PASSKEYD_TPM", "/dev/tpmrm0"), "the TPM for --keystore tpm (env PASSKEYD_TPM)")
	fl.StringVar(&f.passphraseEnv, "passphrase-env", envOr("PASSKEYD_PASSPHRASE_ENV", ""), "file keystore: the environment variable holding the state directory's passphrase")
	return cmd
}

func initCA(cmd *cobra.Command, d *dirs, f *caFlags) error {
	aaguid, err := attestation.ParseAAGUID(f.aaguid)
	if err != nil {
		return usagef("--aaguid %q is not a UUID", f.aaguid)
	}
	protector, closeFn, err := openCAProtector(d, f)
	if err != nil {
		return err
	}
	defer closeFn()
	dir := daemon.CADir(d.state)
	opts := f.opts
	opts.Protector = protector
	ca, err := attestation.InitCA(dir, aaguid, opts)
	if errors.Is(err, attestation.ErrCAExists) {
		return fmt.Errorf("an attestation CA already exists in %s; pass --force to replace it", dir)
	}
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Created the attestation CA in %s.\n", dir)
	fmt.Fprintf(w, "Root SHA-256 fingerprint: %s\n", fingerprint(ca.Root()))
	fmt.Fprintln(w, "Restart 'passkeyd serve' to use it; give relying parties the root from 'passkeyd attestation export'.")
	return nil
}

// openCAProtector opens the key sealer as the daemon does (internal/daemon
// openSealer), so that it can open what this seals.
func openCAProtector(d *dirs, f *caFlags) (attestation.KeyProtector, func(), error) {
	noop := func() {}
	switch f.keystore {
	case "", "file":
		if f.passphraseEnv == "" {
			s, err := keystore.NewFileSealer(d.state)
			return s, noop, err
		}
		p := os.Getenv(f.passphraseEnv)
		if p == "" {
			return nil, noop, usagef("--passphrase-env %s: the variable is empty or unset", f.passphraseEnv)
		}
		s, err := keystore.NewPassphraseSealer(d.state, []byte(p))
		return s, noop, err
	case "keyring":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := keystore.NewKeyringSealer(ctx, d.state)
		return s, noop, err
	case "tpm":
		s, err := keystore.OpenTPM(f.tpm, d.state)
		if err != nil {
			return nil, noop, err
		}
		return s, func() { s.Close() }, nil
	case "memory":
		return nil, noop, usagef("--keystore memory keeps nothing: the CA keys could not be opened again; use file, keyring or tpm")
	}
	return nil, noop, usagef("--keystore %q is not one of file, keyring, tpm", f.keystore)
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func newAttestationExportCmd(d *dirs) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Print the attestation root certificate in PEM",
		Long: `export prints the root certificate of the local attestation CA on stdout, in
PEM. Relying parties under test configure it as the trust anchor for
passkeyd's attestation (go-webauthn: a metadata entry or custom trust
anchors; many servers: an "attestation root certificates" list). It needs no
key and no running daemon.`,
		Example: "  passkeyd attestation export > passkeyd-root.pem",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exportRoot(cmd.OutOrStdout(), daemon.CADir(d.state))
		},
	}
}

// exportRoot prints the root certificate after checking that it parses.
func exportRoot(w io.Writer, dir string) error {
	path := filepath.Join(dir, rootPEMFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no attestation CA in %s; create one with: passkeyd attestation init", dir)
	}
	if err != nil {
		return err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("%s is not a PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if !cert.IsCA {
		return fmt.Errorf("%s is not a CA certificate", path)
	}
	_, err = w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	return err
}
