package keystore

import (
	"crypto"
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Errors of the TPM backend that callers branch on. Each message is a
// sentence a person can act on; cmd/passkeyd prints it as it is.
var (
	// ErrTPMUnavailable means the TPM could not be reached: no device, no
	// permission, or no swtpm listening. The wrapped message says which.
	ErrTPMUnavailable = errors.New("keystore: the TPM cannot be used")
	// ErrTPMUnsupported means the TPM lacks ECC P-256, ECDSA-SHA256 or another
	// algorithm passkeyd needs.
	ErrTPMUnsupported = errors.New("keystore: the TPM does not support what passkeyd needs")
	// ErrTPMOwnerPassword means the TPM owner hierarchy has an authorization
	// value, so passkeyd cannot create its storage key there.
	ErrTPMOwnerPassword = errors.New("keystore: the TPM owner hierarchy has a password; passkeyd needs it empty " +
		"to create its storage key: run `tpm2_changeauth -c owner -p OLD_PASSWORD` (this sets an empty one), " +
		"or choose another keystore (--keystore file)")
)

// TPMSealer is the tpm key-sealing backend. Every credential key is a TPM
// object created under the storage root key (the standard ECC P-256 SRK,
// re-created from its template at every open, so nothing is stored in TPM
// NV); only the TPM-wrapped blobs leave the TPM, and signing happens inside
// it. Small secrets (Seal, Open) are encrypted with a data key that is itself
// sealed by the TPM in the state directory.
//
// One TPMSealer owns one connection to the TPM; a mutex serializes commands,
// so it is safe for concurrent use. On a TPM without a resource manager
// (swtpm, the simulator, /dev/tpm0) it assumes it is the only user.
type TPMSealer struct {
	mu        sync.Mutex
	tpm       *retryTPM        // nil once closed
	srk       tpm2.NamedHandle // storage root key, loaded while open
	srkPublic *tpm2.TPMTPublic // its public area, the parent ImportKey wraps keys for
	secrets   cipher.AEAD      // Seal and Open, keyed from the TPM-sealed data key
	policyKey []byte           // HMAC key of credential policies, from the data key
	ak        *attestationKey  // created on first use, see Certify
	device    *tpmDevice       // read on first use, see Device
}

// TPMOption adjusts OpenTPM.
type TPMOption func(*tpmOptions)

type tpmOptions struct {
	tries      int
	firstDelay time.Duration
}

// TPMRetries sets how often a command that the TPM answers with
// TPM_RC_RETRY, YIELDED, CANCELED or TESTING is sent in all (at least once),
// and the pause before the first resend, which doubles each time. The
// default is 12 tries from 1 ms: about 2 s in all.
func TPMRetries(tries int, firstDelay time.Duration) TPMOption {
	return func(o *tpmOptions) {
		o.tries = max(tries, 1)
		o.firstDelay = firstDelay
	}
}

// OpenTPM connects to the TPM named by spec and prepares it: spec is a
// device path ("" means [DefaultTPM]), "tcp:HOST:PORT" for swtpm (control
// port PORT+1), or "sim" / "sim:SEED" for the in-process simulator when built
// with the tpmsim tag. It checks that the TPM supports ECC P-256 and
// ECDSA-SHA256, that the owner hierarchy has no password, creates the storage
// root key, and loads or first creates the data key in stateDir
// (tpm-datakey.blob). Failures are errors in plain words, matching
// [ErrTPMUnavailable], [ErrTPMUnsupported] or [ErrTPMOwnerPassword].
func OpenTPM(spec, stateDir string, opts ...TPMOption) (*TPMSealer, error) {
	o := tpmOptions{tries: 12, firstDelay: time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	if stateDir == "" {
		return nil, errors.New("keystore: the TPM keystore needs a state directory")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: failed to create the state directory: %w", err)
	}
	t, err := openTPMTransport(spec)
	if err != nil {
		return nil, err
	}
	s := &TPMSealer{tpm: &retryTPM{TPMCloser: t, tries: o.tries, delay: o.firstDelay}}
	if err := s.start(stateDir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start runs the open sequence, each step a TPM conversation of its own.
func (s *TPMSealer) start(stateDir string) error {
	steps := []func() error{
		s.startup,
		s.checkAlgorithms,
		s.flushStaleObjects,
		s.checkOwnerAuth,
		s.createSRK,
		func() error { return s.loadDataKey(stateDir) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// Close flushes every object passkeyd loaded and closes the connection.
// Signers obtained earlier fail with [ErrClosed] afterwards.
func (s *TPMSealer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		return nil
	}
	var errs []error
	if s.ak != nil {
		errs = append(errs, s.flush(s.ak.handle.Handle))
		s.ak = nil
	}
	if s.srk.Handle != 0 {
		errs = append(errs, s.flush(s.srk.Handle))
	}
	clear(s.policyKey)
	errs = append(errs, s.tpm.Close())
	s.tpm = nil
	return errors.Join(errs...)
}

// locked runs fn with the TPM to itself, or fails if the sealer is closed.
func (s *TPMSealer) locked(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		return ErrClosed
	}
	return fn()
}

// NewKey creates an ECDSA P-256 key inside the TPM, bound to credID, and
// returns its TPM-wrapped blob and a signer for it.
func (s *TPMSealer) NewKey(credID []byte) ([]byte, crypto.Signer, error) {
	var k *tpmKey
	err := s.locked(func() (err error) {
		k, err = s.createCredentialKey(credID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return k.encode(), &tpmSigner{s: s, key: k}, nil
}

// Signer opens a blob made by NewKey or ImportKey for credID: it checks the
// binding and has the TPM load the key once. It fails with [ErrSealedData]
// if the blob was made for another credential or by another passkeyd state
// directory, or if the TPM refuses it (damaged, another TPM, or the TPM was
// cleared).
func (s *TPMSealer) Signer(credID, sealed []byte) (crypto.Signer, error) {
	var k *tpmKey
	err := s.locked(func() (err error) {
		if k, err = s.decodeCredentialKey(credID, sealed); err != nil {
			return err
		}
		return s.load(k, func(tpm2.NamedHandle) error { return nil })
	})
	if err != nil {
		return nil, err
	}
	return &tpmSigner{s: s, key: k}, nil
}

// flush unloads a transient object. The caller holds s.mu.
func (s *TPMSealer) flush(h tpm2.TPMHandle) error {
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(s.tpm); err != nil {
		return fmt.Errorf("keystore: failed to flush TPM handle 0x%x: %w", uint32(h), err)
	}
	return nil
}
