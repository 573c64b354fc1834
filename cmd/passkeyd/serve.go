package main

import (
	"context"
	"fmt"

	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/userverify"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type serveFlags struct {
	keystore, tpm, passphraseEnv string
	passphrasePrompt             bool
	ephemeral                    bool
	uv, pinentry                 string
	uvTimeout                    time.Duration
	attestation, profile, aaguid string
	backupEligible, backupState  string
	zeroCounter                  string
	uhid                         bool
	uhidPath                     string
	logFormat, logLevel          string
	testControls, allowExport    bool
}

func newServeCmd(d *dirs) *cobra.Command { return serveCommand(d, &serveFlags{}) }

// serveCommand is `passkeyd serve`, with its flags bound to f.
func serveCommand(d *dirs, f *serveFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the passkey provider in the foreground",
		Long: `serve runs the provider in the foreground until SIGINT, SIGTERM or SIGHUP. It is ready
when its sockets accept: ctaphid.sock (CTAPHID, 64-byte reports) and api.sock
(HTTP+JSON) in the runtime directory. Logs go to stderr.

Every flag can also be set by the environment variable named in its help.`,
		Example: `  passkeyd serve                               # file keystore, fingerprint then PIN
  passkeyd serve --ephemeral --uv approve      # CI: memory only, nobody asked
  passkeyd serve --ephemeral --uv approve --test-controls   # QA: faults, events, WebDriver-style controls
  passkeyd serve --uv command:./approve.sh     # a hook program decides
  passkeyd serve --keystore tpm --tpm tcp:127.0.0.1:2321`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, d, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.keystore, "keystore", envOr("PASSKEYD_KEYSTORE", "file"), "where private keys are sealed: file, keyring, tpm or memory (env PASSKEYD_KEYSTORE)")
	fl.StringVar(&f.tpm, "tpm", envOr("PASSKEYD_TPM", "/dev/tpmrm0"), "the TPM for --keystore tpm: a device, tcp:HOST:PORT (swtpm) or sim (env PASSKEYD_TPM)")
	fl.StringVar(&f.passphraseEnv, "passphrase-env", envOr("PASSKEYD_PASSPHRASE_ENV", ""), "file keystore: derive the master key from the passphrase in this environment variable")
	fl.BoolVar(&f.passphrasePrompt, "passphrase", false, "file keystore: ask for the passphrase the master key is derived from, on the terminal")
	fl.BoolVar(&f.ephemeral, "ephemeral", os.Getenv("PASSKEYD_EPHEMERAL") == "1", "keep everything in memory; nothing is written to the state directory (env PASSKEYD_EPHEMERAL=1)")
	fl.StringVar(&f.uv, "uv", envOr("PASSKEYD_UV", "biometric,pin"), "user verification chain, tried in order: biometric, pin, command:PROGRAM, approve, deny (env PASSKEYD_UV)")
	fl.DurationVar(&f.uvTimeout, "uv-timeout", durationEnv("PASSKEYD_UV_TIMEOUT", 2*time.Minute), "how long a command: hook may take (env PASSKEYD_UV_TIMEOUT)")
	fl.StringVar(&f.pinentry, "pinentry", envOr("PASSKEYD_PINENTRY", ""), "pinentry program that asks for the PIN (default: pinentry in PATH; env PASSKEYD_PINENTRY)")
	fl.StringVar(&f.attestation, "attestation", envOr("PASSKEYD_ATTESTATION", ""), "attestation format: "+strings.Join(attestation.Names(), ", ")+" (default: the profile's; env PASSKEYD_ATTESTATION)")
	fl.StringVar(&f.profile, "profile", envOr("PASSKEYD_PROFILE", attestation.ProfileDeviceBound), "provider profile: device-bound or synced (env PASSKEYD_PROFILE)")
	fl.StringVar(&f.aaguid, "aaguid", envOr("PASSKEYD_AAGUID", ""), "AAGUID to report instead of the profile's (env PASSKEYD_AAGUID)")
	fl.StringVar(&f.backupEligible, "backup-eligible", envOr("PASSKEYD_BACKUP_ELIGIBLE", ""), "true or false: the BE flag of new passkeys (default: the profile's)")
	fl.StringVar(&f.backupState, "backup-state", envOr("PASSKEYD_BACKUP_STATE", ""), "true or false: the BS flag of new passkeys (default: the profile's)")
	fl.StringVar(&f.zeroCounter, "zero-counter", envOr("PASSKEYD_ZERO_COUNTER", ""), "true or false: report signature counters as 0 (default: the profile's)")
	fl.BoolVar(&f.uhid, "uhid", os.Getenv("PASSKEYD_UHID") == "1", "also appear as a USB security key through /dev/uhid (env PASSKEYD_UHID=1)")
	fl.StringVar(&f.uhidPath, "uhid-path", "/dev/uhid", "the uhid device")
	fl.BoolVar(&f.testControls, "test-controls", os.Getenv("PASSKEYD_TEST_CONTROLS") == "1", "serve the test controls on api.sock: add, read and remove passkeys, script verification, inject faults, watch events, without asking anyone; test machines only (env PASSKEYD_TEST_CONTROLS=1)")
	fl.BoolVar(&f.allowExport, "allow-export", os.Getenv("PASSKEYD_ALLOW_EXPORT") == "1", "let the test controls read private keys back; needs --test-controls and the memory keystore (env PASSKEYD_ALLOW_EXPORT=1)")
	fl.StringVar(&f.logFormat, "log-format", envOr("PASSKEYD_LOG_FORMAT", "text"), "log format on stderr: text or json (env PASSKEYD_LOG_FORMAT)")
	fl.StringVar(&f.logLevel, "log-level", envOr("PASSKEYD_LOG_LEVEL", "info"), "debug, info, warn or error (env PASSKEYD_LOG_LEVEL)")
	return cmd
}

func durationEnv(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func serve(cmd *cobra.Command, d *dirs, f *serveFlags) error {
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := f.config(d, log)
	if err != nil {
		return err
	}
	dm, err := daemon.Start(cfg)
	if err != nil {
		return err
	}
	daemon.TuneGC(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-dm.Errors():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := dm.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

func (f *serveFlags) config(d *dirs, log *slog.Logger) (daemon.Config, error) {
	cfg := daemon.Config{StateDir: d.state, RuntimeDir: d.runtime, Keystore: f.keystore, TPM: f.tpm,
		Ephemeral: f.ephemeral, UV: f.uv, UVTimeout: f.uvTimeout, Pinentry: f.pinentry,
		Attestation: f.attestation, Profile: f.profile, AAGUID: f.aaguid, UHID: f.uhid, UHIDPath: f.uhidPath,
		TestControls: f.testControls, AllowExport: f.allowExport, Version: version, Logger: log}
	if f.allowExport && !f.testControls {
		return cfg, usagef("--allow-export needs --test-controls: only the test controls read keys back")
	}
	if f.allowExport && !f.ephemeral && f.keystore != "memory" {
		return cfg, usagef("--allow-export needs --ephemeral or --keystore memory: the %s keystore never reveals a key", f.keystore)
	}
	if err := checkUVSpec(f.uv); err != nil {
		return cfg, err
	}
	if f.passphrasePrompt {
		p, err := readPassphrase()
		if err != nil {
			return cfg, err
		}
		cfg.Passphrase = p
	}
	if f.passphraseEnv != "" {
		p := os.Getenv(f.passphraseEnv)
		if p == "" {
			return cfg, usagef("--passphrase-env %s: the variable is empty or unset", f.passphraseEnv)
		}
		cfg.Passphrase = []byte(p)
	}
	var err error
	for _, b := range []struct {
		flag, val string
		dst       **bool
	}{{"--backup-eligible", f.backupEligible, &cfg.BE}, {"--backup-state", f.backupState, &cfg.BS}, {"--zero-counter", f.zeroCounter, &cfg.ZeroCounter}} {
		if *b.dst, err = optionalBool(b.flag, b.val); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func optionalBool(flag, v string) (*bool, error) {
	switch v {
	case "":
		return nil, nil
	case "true", "1", "yes":
		t := true
		return &t, nil
	case "false", "0", "no":
		f := false
		return &f, nil
	}
	return nil, usagef("%s %q: want true or false", flag, v)
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

// readPassphrase asks for the keystore passphrase on the terminal, without echo.
func readPassphrase() ([]byte, error) {
	if !isTerminal(os.Stdin) {
		return nil, usagef("--passphrase needs a terminal; use --passphrase-env VAR in scripts")
	}
	fmt.Fprint(os.Stderr, "Keystore passphrase: ")
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("cannot read the passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, usagef("the passphrase is empty")
	}
	return p, nil
}

// checkUVSpec parses --uv before anything is opened, so that a mistake is a
// usage error (exit 2). The daemon parses it again with the real PIN vault.
func checkUVSpec(spec string) error {
	vault, err := userverify.NewPINVault(keystore.NewMemory())
	if err != nil {
		return err
	}
	if _, err := userverify.Parse(spec, userverify.Deps{Vault: vault}); err != nil {
		return usagef("--uv %q: %v", spec, err)
	}
	return nil
}
