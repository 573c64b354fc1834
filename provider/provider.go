// Package provider is the authenticator: the "credential manager app" that
// creates and holds ES256 passkeys and answers CTAP 2.1 requests.
//
// # Using it in a Go test
//
// A provider needs a [Store], a [Sealer] for private keys and a
// userverify.Verifier. For tests, keystore.NewMemory, keystore.NewMemorySealer
// and userverify.Mock are enough; see the examples.
//
// # Shape
//
// One file per CTAP command. Every operation that creates, uses, changes or
// reveals a credential asks the Verifier first and maps its answer to a CTAP
// status: denied → OPERATION_DENIED, timed out → USER_ACTION_TIMEOUT,
// cancelled → KEEPALIVE_CANCEL, locked out → UV_BLOCKED.
//
// The provider can be switched off, like an Android "additional provider":
// then GetInfo still answers and every credential operation is refused with
// [ErrDisabled] without asking the user.
package provider

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/userverify"
)

// ErrDisabled is returned for every credential operation while the provider
// is switched off. errors.Is(err, ctap.ErrOperationDenied) also holds.
var ErrDisabled = &ctap.Error{Status: ctap.ErrOperationDenied,
	Reason: "the passkey provider is turned off; turn it on with 'passkeyd provider enable'"}

// PINVault is the one stored PIN verifier (userverify.PINVault), shared by
// ClientPIN and the screen-lock prompt. pinHash is LEFT(SHA-256(pin), 16).
type PINVault interface {
	IsSet() bool
	Retries() int
	Set(pinHash []byte) error
	Check(pinHash []byte) error
	Reset() error
}

// Config is what a Provider is made of. Store, Sealer and Verifier are required.
type Config struct {
	Store    Store
	Sealer   Sealer
	Verifier userverify.Verifier
	// PIN is the ClientPIN verifier; nil means a vault kept in Store.
	PIN PINVault
	// Attester makes attestation statements; nil means packed self attestation.
	Attester Attester
	// AAGUID identifies the provider model; zero means attestation.DefaultAAGUID,
	// passkeyd's own.
	AAGUID [16]byte
	// BackupEligible and BackupState set the BE and BS flags of new credentials
	// (a synced provider sets both).
	BackupEligible, BackupState bool
	// ZeroCounter makes every signature counter 0, as synced passkeys do.
	ZeroCounter bool
	// Logger receives one line per refused or failed operation. Never secrets.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader
	// AllowExport lets TestCredentials reveal private keys, when the Sealer
	// can (test stores only).
	AllowExport bool
}

// Provider is a CTAP 2.1 authenticator. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	store    Store
	sealer   Sealer
	verifier userverify.Verifier
	pin      PINVault
	attester Attester
	log      *slog.Logger

	mu       sync.RWMutex
	settings Settings
	agree    map[uint]*ecdh.PrivateKey // key agreement key per PIN/UV protocol

	signers  signerCache
	sessions sessions
	events   events
	faults   faults
	override struct {
		mu      sync.Mutex
		set     bool
		count   int
		outcome error
	}
}

// New makes a provider. It loads the stored settings.
func New(cfg Config) (*Provider, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Verifier == nil {
		return nil, errors.New("provider: Config needs a Store, a Sealer and a Verifier")
	}
	if cfg.AAGUID == ([16]byte{}) {
		cfg.AAGUID = attestation.DefaultAAGUID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Attester == nil {
		cfg.Attester = attestation.PackedSelf{}
	}
	p := &Provider{cfg: cfg, store: cfg.Store, sealer: cfg.Sealer, verifier: cfg.Verifier,
		attester: cfg.Attester, log: cfg.Logger}
	p.signers.init(4096)
	p.sessions.init(cfg.Now)
	if err := p.loadSettings(); err != nil {
		return nil, err
	}
	if p.pin = cfg.PIN; p.pin == nil {
		v, err := userverify.NewPINVault(cfg.Store)
		if err != nil {
			return nil, fmt.Errorf("provider: %w", err)
		}
		p.pin = v
	}
	return p, p.newKeyAgreement()
}

// newKeyAgreement regenerates the key agreement keys (CTAP 2.1 §6.5.6
// initialize, at power-up, after a wrong PIN and at reset).
func (p *Provider) newKeyAgreement() error {
	keys := map[uint]*ecdh.PrivateKey{}
	for _, v := range []uint{1, 2} {
		k, err := ecdh.P256().GenerateKey(p.cfg.Rand)
		if err != nil {
			return fmt.Errorf("provider: key agreement: %w", err)
		}
		keys[v] = k
	}
	p.mu.Lock()
	p.agree = keys
	p.mu.Unlock()
	return nil
}

func (p *Provider) keyAgreement(proto uint) *ecdh.PrivateKey {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.agree[proto]
}

// protocol returns the PIN/UV auth protocol a request names.
func protocol(v uint) (pinuv.Protocol, error) {
	if v == 0 {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "pinUvAuthProtocol is missing")
	}
	if p := pinuv.ByVersion(v); p != nil {
		return p, nil
	}
	return nil, ctap.Errorf(ctap.ErrInvalidParameter, "pinUvAuthProtocol %d is not supported (1 and 2 are)", v)
}

// ask puts one question to the user and maps the answer to a CTAP status.
func (p *Provider) ask(ctx context.Context, req userverify.Request) error {
	err, scripted := p.overridden()
	if !scripted {
		if up := userNeededFrom(ctx); up != nil {
			up()
		}
		err = p.verifier.Verify(ctx, req)
	}
	p.emit(Event{Type: EventVerification, Operation: string(req.Operation), RPID: req.RPID,
		UserName: req.UserName, Outcome: outcome(err)})
	if err == nil {
		return nil
	}
	status := verifyStatus(err, ctx)
	p.log.Info("user verification did not pass", "operation", req.Operation, "rp", req.RPID,
		"outcome", err.Error(), "status", status.Name())
	return ctap.Errorf(status, "user verification: %v", err)
}

// outcome names a verification result for events and logs.
func outcome(err error) string {
	switch {
	case err == nil:
		return "verified"
	case errors.Is(err, userverify.ErrDenied):
		return "denied"
	case errors.Is(err, userverify.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timed-out"
	case errors.Is(err, userverify.ErrCancelled), errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, userverify.ErrLockedOut):
		return "locked-out"
	case errors.Is(err, userverify.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// verifyStatus maps a Verifier's answer to a CTAP status (issue #2 mapping).
func verifyStatus(err error, ctx context.Context) ctap.Status {
	switch {
	case errors.Is(err, userverify.ErrDenied), errors.Is(err, userverify.ErrUnavailable):
		return ctap.ErrOperationDenied
	case errors.Is(err, userverify.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ctap.ErrUserActionTimeout
	case errors.Is(err, userverify.ErrCancelled), errors.Is(err, context.Canceled):
		return ctap.ErrKeepaliveCancel
	case errors.Is(err, userverify.ErrLockedOut):
		return ctap.ErrUVBlocked
	case ctx.Err() != nil:
		return ctap.ErrKeepaliveCancel
	}
	return ctap.ErrOther
}

// checkEnabled refuses credential operations while the provider is off.
func (p *Provider) checkEnabled() error {
	if !p.Settings().Enabled() {
		return ErrDisabled
	}
	return nil
}

func (p *Provider) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.cfg.Rand, b); err != nil {
		panic("provider: randomness source failed: " + err.Error())
	}
	return b
}

// signer returns the credential's signer, from the cache or the Sealer.
func (p *Provider) signer(rec *keystore.Record) (crypto.Signer, error) {
	if s := p.signers.get(rec.ID); s != nil {
		return s, nil
	}
	s, err := p.sealer.Signer(rec.ID, rec.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("provider: cannot open the key of credential %x: %w", rec.ID[:4], err)
	}
	p.signers.put(rec.ID, s)
	return s, nil
}

// signerCache keeps opened signers so that an assertion costs one signature.
// It is bounded; eviction is arbitrary (map order), which is fine for a cache.
type signerCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]crypto.Signer
}

func (c *signerCache) init(max int) { c.max, c.m = max, map[string]crypto.Signer{} }

func (c *signerCache) get(id []byte) crypto.Signer {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[string(id)]
}

func (c *signerCache) put(id []byte, s crypto.Signer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if len(c.m) < c.max {
			break
		}
		delete(c.m, k)
	}
	c.m[string(id)] = s
}

func (c *signerCache) drop(id []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == nil {
		clear(c.m)
		return
	}
	delete(c.m, string(id))
}
