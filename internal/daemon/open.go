package daemon

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/internal/api"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// Keystore backends (--keystore).
var Keystores = []string{"file", "keyring", "tpm", "memory"}

// CADir is where the local attestation CA lives inside the state directory.
func CADir(stateDir string) string { return filepath.Join(stateDir, "attestation") }

// openProvider opens the store, the key backend, the UV chain and the
// attestation, and makes the provider.
func (d *Daemon) openProvider() error {
	store, err := d.openStore()
	if err != nil {
		return err
	}
	sealer, err := d.openSealer()
	if err != nil {
		return err
	}
	vault, err := userverify.NewPINVault(store)
	if err != nil {
		return err
	}
	uv, err := userverify.Parse(d.cfg.UV, userverify.Deps{Vault: vault, Pinentry: d.cfg.Pinentry,
		Logger: d.log, CommandTimeout: d.cfg.UVTimeout})
	if err != nil {
		return err
	}
	prof, attester, err := d.attestation(sealer)
	if err != nil {
		return err
	}
	d.P, err = provider.New(provider.Config{Store: store, Sealer: sealer, Verifier: uv, PIN: vault,
		Attester: attester, AAGUID: prof.AAGUID, BackupEligible: prof.BackupEligible,
		BackupState: prof.BackupState, ZeroCounter: prof.Counter == attestation.CounterZero, Logger: d.log,
		AllowExport: d.cfg.AllowExport})
	if err != nil {
		return err
	}
	d.status = d.describe(prof, attester, uv)
	if userverify.IsUnattended(uv) {
		d.log.Warn("no person is asked to verify: every operation is answered by --uv " + d.cfg.UV)
	}
	if chainHas(d.cfg.UV, "pin") && !vault.IsSet() {
		d.log.Warn("no PIN is set, so the pin method cannot verify anyone: set one with 'passkeyd pin set'")
	}
	return nil
}

type store interface {
	provider.Store
	io.Closer
}

func (d *Daemon) openStore() (store, error) {
	if d.cfg.Ephemeral || d.cfg.Keystore == "memory" {
		return keystore.NewMemory(), nil
	}
	db, err := keystore.Open(d.cfg.StateDir)
	if errors.Is(err, keystore.ErrLocked) {
		return nil, fmt.Errorf("another passkeyd is already using the state directory %s; stop it first, or pass a different --state-dir", d.cfg.StateDir)
	}
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, db)
	return db, nil
}

func (d *Daemon) openSealer() (provider.Sealer, error) {
	kind := d.cfg.Keystore
	if d.cfg.Ephemeral {
		kind = "memory"
	}
	switch kind {
	case "", "file":
		if d.cfg.Passphrase != nil {
			return keystore.NewPassphraseSealer(d.cfg.StateDir, d.cfg.Passphrase)
		}
		return keystore.NewFileSealer(d.cfg.StateDir)
	case "keyring":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return keystore.NewKeyringSealer(ctx, d.cfg.StateDir)
	case "tpm":
		s, err := keystore.OpenTPM(d.cfg.TPM, d.cfg.StateDir)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, s)
		return s, nil
	case "memory":
		return keystore.NewMemorySealer(), nil
	}
	return nil, fmt.Errorf("--keystore %q is not one of %s", kind, strings.Join(Keystores, ", "))
}

// attestation picks the profile, applies the overrides and makes the attester.
func (d *Daemon) attestation(sealer provider.Sealer) (attestation.Profile, provider.Attester, error) {
	name := d.cfg.Profile
	if name == "" {
		name = attestation.ProfileDeviceBound
	}
	prof, err := attestation.ProfileByName(name)
	if err != nil {
		return prof, nil, err
	}
	if err := d.override(&prof); err != nil {
		return prof, nil, err
	}
	var deps attestation.Deps
	if ca, err := attestation.LoadCA(CADir(d.cfg.StateDir), sealer); err == nil {
		deps.CA = ca
	} else if !errors.Is(err, attestation.ErrNoCA) {
		return prof, nil, err
	}
	if tpm, ok := sealer.(*keystore.TPMSealer); ok {
		deps.TPM = tpmCertifier{tpm}
	}
	a, err := attestation.New(prof.Attestation, deps)
	if errors.Is(err, attestation.ErrNoTPM) {
		return prof, nil, fmt.Errorf("%w: start with --keystore tpm, or choose another --attestation", err)
	}
	if err == nil && a.Format() == attestation.FormatTPM {
		err = checkTPMAttestation(deps.TPM)
	}
	return prof, a, err
}

// checkTPMAttestation makes the TPM's attestation key and reads its
// identity at start, so that a TPM that cannot attest is reported now
// rather than at the first registration.
func checkTPMAttestation(c attestation.TPMCertifier) error {
	_, dev, err := c.AttestationKey()
	if err != nil {
		return fmt.Errorf("the TPM cannot make tpm attestation: %w", err)
	}
	if dev.Model == "" {
		return errors.New("the TPM reports no vendor string (TPM_PT_VENDOR_STRING_1..4), which the AIK certificate " +
			"of tpm attestation must name; choose another --attestation")
	}
	return nil
}

// tpmCertifier lets the TPM key backend serve the tpm attestation format.
// It lives here, where the two are put together, because keystore and
// attestation are siblings that know nothing of each other: keystore
// offers TPM2_Certify and the TPM's identity in TPM terms, attestation
// declares what it needs, and only the daemon depends on both.
type tpmCertifier struct{ s *keystore.TPMSealer }

var _ attestation.TPMCertifier = tpmCertifier{}

// Certify certifies the credential key, which must be a signer the TPM
// sealer made, with the TPM's attestation key.
func (c tpmCertifier) Certify(credID []byte, key crypto.Signer, qualifyingData []byte) (*attestation.TPMCertification, error) {
	pubArea, certInfo, sig, err := c.s.CertifyKey(credID, key, qualifyingData)
	if err != nil {
		return nil, err
	}
	return &attestation.TPMCertification{PubArea: pubArea, CertInfo: certInfo, Signature: sig}, nil
}

// AttestationKey returns the TPM's attestation key and what the TPM says
// it is.
func (c tpmCertifier) AttestationKey() (crypto.PublicKey, attestation.TPMDevice, error) {
	ak, err := c.s.AttestationPublic()
	if err != nil {
		return nil, attestation.TPMDevice{}, err
	}
	manufacturer, model, firmware, err := c.s.Device()
	if err != nil {
		return nil, attestation.TPMDevice{}, err
	}
	return ak, attestation.TPMDevice{Manufacturer: manufacturer, Model: model, FirmwareVersion: firmware}, nil
}

func (d *Daemon) override(prof *attestation.Profile) error {
	if d.cfg.Attestation != "" {
		prof.Attestation = d.cfg.Attestation
	}
	if d.cfg.AAGUID != "" {
		b, err := hex.DecodeString(strings.ReplaceAll(d.cfg.AAGUID, "-", ""))
		if err != nil || len(b) != 16 {
			return fmt.Errorf("--aaguid %q is not a UUID", d.cfg.AAGUID)
		}
		copy(prof.AAGUID[:], b)
	}
	if d.cfg.BE != nil {
		prof.BackupEligible = *d.cfg.BE
	}
	if d.cfg.BS != nil {
		prof.BackupState = *d.cfg.BS
	}
	if d.cfg.ZeroCounter != nil {
		prof.Counter = attestation.CounterIncrement
		if *d.cfg.ZeroCounter {
			prof.Counter = attestation.CounterZero
		}
	}
	return prof.Validate()
}

func (d *Daemon) describe(prof attestation.Profile, a provider.Attester, uv userverify.Verifier) api.Status {
	ks := d.cfg.Keystore
	if d.cfg.Ephemeral || ks == "" {
		ks = map[bool]string{true: "memory (ephemeral)", false: "file"}[d.cfg.Ephemeral]
	}
	return api.Status{Version: d.cfg.Version, Keystore: ks, UV: userverify.Describe(uv),
		Unattended: userverify.IsUnattended(uv), Attestation: a.Format(), Profile: prof.Name,
		AAGUID: uuid(prof.AAGUID), StateDir: d.cfg.StateDir, RuntimeDir: d.cfg.RuntimeDir}
}

func uuid(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// chainHas reports whether the --uv chain names method (a command: program
// whose path contains the word does not count).
func chainHas(spec, method string) bool {
	for _, item := range strings.Split(spec, ",") {
		if strings.TrimSpace(item) == method {
			return true
		}
	}
	return false
}
