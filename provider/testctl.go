package provider

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/userverify"
)

// The test controls: what the WebDriver "Virtual Authenticator" commands
// and Chrome's DevTools WebAuthn domain offer (WebAuthn L3 §11.4), for any
// client and across restarts. They bypass user verification, so the daemon
// serves them only when started with --test-controls.

// TestCredential is WebDriver's Credential Parameters (WebAuthn L3 §11.4.3).
type TestCredential struct {
	CredentialID         []byte `json:"credentialId"`
	IsResidentCredential bool   `json:"isResidentCredential"`
	RPID                 string `json:"rpId"`
	PrivateKey           []byte `json:"privateKey,omitempty"` // PKCS#8 DER, P-256
	UserHandle           []byte `json:"userHandle,omitempty"`
	SignCount            uint32 `json:"signCount"`
	BackupEligibility    bool   `json:"backupEligibility"`
	BackupState          bool   `json:"backupState"`
	UserName             string `json:"userName,omitempty"`
	UserDisplayName      string `json:"userDisplayName,omitempty"`
}

// Errors of the test controls.
var (
	ErrNoImport = errors.New("provider: this keystore cannot import keys (its sealer has no ImportKey)")
	ErrNoExport = errors.New("provider: private keys can be read back only from the memory keystore or a store started with --allow-export")
)

// AddCredential stores a credential made elsewhere (WebDriver Add Credential).
func (p *Provider) AddCredential(c TestCredential) error {
	imp, ok := p.sealer.(KeyImporter)
	if !ok {
		return ErrNoImport
	}
	pub, err := publicFromPKCS8(c.PrivateKey)
	if err != nil {
		return err
	}
	switch {
	case len(c.CredentialID) < 16 || len(c.CredentialID) > MaxCredentialIDLength:
		return fmt.Errorf("provider: credentialId must be 16 to %d bytes", MaxCredentialIDLength)
	case c.RPID == "":
		return errors.New("provider: rpId is required")
	case c.IsResidentCredential && len(c.UserHandle) == 0:
		return errors.New("provider: a resident credential needs a userHandle")
	case c.BackupState && !c.BackupEligibility:
		return errors.New("provider: backupState needs backupEligibility")
	}
	sealed, err := imp.ImportKey(c.CredentialID, c.PrivateKey)
	if err != nil {
		return fmt.Errorf("provider: cannot import the key: %w", err)
	}
	rec := &keystore.Record{ID: c.CredentialID, RPID: c.RPID, UserID: c.UserHandle, UserName: c.UserName,
		UserDisplayName: c.UserDisplayName, PublicKey: pub, SealedKey: sealed, Discoverable: c.IsResidentCredential,
		CredProtect: 1, Counter: c.SignCount, BackupEligible: c.BackupEligibility, BackupState: c.BackupState,
		Created: p.cfg.Now().UTC()}
	if err := p.store.Create(rec); err != nil {
		return err
	}
	p.emit(Event{Type: EventCredentialAdded, CredentialID: rec.ID, RPID: rec.RPID, UserName: rec.UserName})
	return nil
}

func publicFromPKCS8(der []byte) ([]byte, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("provider: privateKey is not PKCS#8: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve.Params().Name != "P-256" {
		return nil, errors.New("provider: privateKey must be an ECDSA P-256 key")
	}
	return ek.PublicKey.Bytes()
}

// TestCredentials lists every credential (WebDriver Get Credentials), with
// private keys when withKeys is set and the keystore may reveal them.
func (p *Provider) TestCredentials(withKeys bool) ([]TestCredential, error) {
	exp, canExport := p.sealer.(KeyExporter)
	if withKeys && (!canExport || !p.cfg.AllowExport) {
		return nil, ErrNoExport
	}
	all, err := p.store.Credentials(nil)
	if err != nil {
		return nil, err
	}
	out := make([]TestCredential, 0, len(all))
	for _, r := range all {
		c := TestCredential{CredentialID: r.ID, IsResidentCredential: r.Discoverable, RPID: r.RPID,
			UserHandle: r.UserID, SignCount: r.Counter, BackupEligibility: r.BackupEligible,
			BackupState: r.BackupState, UserName: r.UserName, UserDisplayName: r.UserDisplayName}
		if withKeys {
			if c.PrivateKey, err = exp.ExportKey(r.ID, r.SealedKey); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// RemoveCredential deletes one credential without asking (WebDriver Remove Credential).
func (p *Provider) RemoveCredential(id []byte) error {
	rec, err := p.store.Credential(id)
	if err != nil {
		return err
	}
	if err := p.store.Delete(id); err != nil {
		return err
	}
	p.signers.drop(id)
	p.emit(Event{Type: EventCredentialDeleted, CredentialID: id, RPID: rec.RPID, UserName: rec.UserName})
	return nil
}

// RemoveAllCredentials deletes every credential (WebDriver Remove All Credentials).
func (p *Provider) RemoveAllCredentials() error {
	all, err := p.store.Credentials(nil)
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := p.RemoveCredential(r.ID); err != nil && !errors.Is(err, keystore.ErrNotFound) {
			return err
		}
	}
	return nil
}

// CredentialProperties are WebDriver's Set Credential Properties; nil
// fields are left alone.
type CredentialProperties struct {
	BackupEligibility *bool   `json:"backupEligibility,omitempty"`
	BackupState       *bool   `json:"backupState,omitempty"`
	SignCount         *uint32 `json:"signCount,omitempty"`
}

// SetCredentialProperties changes BE, BS and the counter of a credential.
// A stored counter never goes back (it would repeat values after a crash);
// to show a relying party a lower counter, inject a counter-lowered fault.
func (p *Provider) SetCredentialProperties(id []byte, props CredentialProperties) error {
	err := p.store.Update(id, func(r *keystore.Record) error {
		if props.SignCount != nil {
			if *props.SignCount < r.Counter {
				return fmt.Errorf("provider: signCount %d is below the current %d; counters never go back (inject a counter-lowered fault instead)", *props.SignCount, r.Counter)
			}
			r.Counter = *props.SignCount
		}
		if props.BackupEligibility != nil {
			r.BackupEligible = *props.BackupEligibility
		}
		if props.BackupState != nil {
			r.BackupState = *props.BackupState
		}
		if r.BackupState && !r.BackupEligible {
			return errors.New("provider: backupState needs backupEligibility")
		}
		return nil
	})
	if err == nil {
		p.emit(Event{Type: EventCredentialUpdated, CredentialID: id})
	}
	return err
}

// SetUserVerified decides the outcome of the next count verifications
// (count 0: all of them until changed), without asking anyone: verified
// approves, !verified denies (WebDriver Set User Verified).
func (p *Provider) SetUserVerified(verified bool, count int) {
	p.override.mu.Lock()
	defer p.override.mu.Unlock()
	p.override.set, p.override.count = true, count
	p.override.outcome = nil
	if !verified {
		p.override.outcome = userverify.ErrDenied
	}
}

// ClearUserVerified gives verification back to the configured methods.
func (p *Provider) ClearUserVerified() {
	p.override.mu.Lock()
	p.override.set = false
	p.override.mu.Unlock()
}

// overridden returns the scripted outcome of this verification, if any.
func (p *Provider) overridden() (error, bool) {
	p.override.mu.Lock()
	defer p.override.mu.Unlock()
	if !p.override.set {
		return nil, false
	}
	if p.override.count > 0 {
		if p.override.count--; p.override.count == 0 {
			p.override.set = false
		}
	}
	return p.override.outcome, true
}
