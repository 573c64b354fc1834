package userverify

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Settings keeps small named values durably; the provider's settings store
// implements it. Setting answers nil, nil for a key never written.
type Settings interface {
	Setting(key string) ([]byte, error)
	PutSetting(key string, value []byte) error
}

// SettingKey is the [Settings] key under which a [PINVault] keeps its state.
const SettingKey = "pin"

// MaxPINRetries is the retries counter of a fresh PIN (CTAP 2.1 §6.5.2.1
// "pinRetries ... maximum value 8").
const MaxPINRetries = 8

// maxConsecutive is how many wrong PINs in a row block PIN use until the
// next power cycle (CTAP 2.1 §6.5.5.7, "3 consecutive mismatches").
const maxConsecutive = 3

// PINHashSize is the length of a CTAP PIN hash, LEFT(SHA-256(pin), 16).
const PINHashSize = 16

// Errors of [PINVault.Check] and [PINVault.Set]; they match the CTAP 2.1
// statuses of the same names. A lockout delay is a [*LockoutError].
var (
	// ErrPINInvalid: the PIN is wrong (CTAP2_ERR_PIN_INVALID); a retry was used.
	ErrPINInvalid = errors.New("userverify: wrong PIN")
	// ErrPINAuthBlocked: 3 wrong PINs in a row; no more tries until passkeyd
	// restarts (CTAP2_ERR_PIN_AUTH_BLOCKED).
	ErrPINAuthBlocked = errors.New("userverify: too many wrong PINs in a row; restart passkeyd to try again")
	// ErrPINBlocked: no retries left; only a reset unblocks (CTAP2_ERR_PIN_BLOCKED).
	ErrPINBlocked = errors.New("userverify: PIN blocked after too many wrong PINs; reset the authenticator")
	// ErrPINNotSet: no PIN is set (CTAP2_ERR_PIN_NOT_SET).
	ErrPINNotSet = errors.New("userverify: no PIN is set")
)

// LockoutError is the answer of [PINVault.Check] during a lockout delay. It
// matches [ErrLockedOut] with errors.Is; no retry was used.
type LockoutError struct {
	Until time.Time // when the next try is allowed
}

// Error says until when tries are refused.
func (e *LockoutError) Error() string {
	return fmt.Sprintf("userverify: locked out after wrong PINs until %s", e.Until.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLockedOut) hold.
func (e *LockoutError) Is(target error) bool { return target == ErrLockedOut }

// DefaultLockoutDelays are the waits imposed after the 4th, 5th, 6th and 7th
// wrong PIN in a row, counted across restarts, as a phone does; the 8th
// blocks the PIN.
var DefaultLockoutDelays = []time.Duration{30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}

// KDFParams are the argon2id parameters that stretch a PIN hash.
type KDFParams struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
}

// DefaultKDF costs 20–40 ms on a 2-core machine: argon2id with 2 passes over
// 19 MiB, the OWASP recommendation.
var DefaultKDF = KDFParams{Time: 2, Memory: 19 * 1024, Threads: 1}

// CheapKDF is for tests only: it makes a check take microseconds.
var CheapKDF = KDFParams{Time: 1, Memory: 8, Threads: 1}

// PINVault is the one stored PIN verifier shared by CTAP ClientPIN and the
// pin method: `passkeyd pin set`, a client's setPIN and changePIN all change
// it. It never stores the PIN, nor its CTAP hash: only
// argon2id(salt, LEFT(SHA-256(pin), 16)), with the salt and the argon2
// parameters beside it, and the retry state.
//
// The CTAP 2.1 retry rules (§6.5.5.5, §6.5.5.7) hold: [MaxPINRetries]
// retries survive restarts; each try is paid for before the comparison, so a
// crash mid-check never gives a free try; a right PIN restores them; 3 wrong
// PINs in a row block tries until the vault is created again (the daemon
// restarts: a "power cycle"); no retries left blocks the PIN until [PINVault.Reset].
// On top, as a phone does, the 4th and later wrong PINs in a row start
// growing lockout delays ([DefaultLockoutDelays]) that also survive restarts.
//
// A PINVault is safe for concurrent use.
type PINVault struct {
	store  Settings
	now    func() time.Time
	kdf    KDFParams
	delays []time.Duration

	mu          sync.Mutex
	state       pinState
	consecutive int // wrong PINs in a row since this vault was created
}

// pinState is what the vault persists, as JSON under SettingKey.
type pinState struct {
	Version     int       `json:"v"`
	Salt        []byte    `json:"salt,omitempty"`
	KDF         KDFParams `json:"kdf,omitzero"`
	Verifier    []byte    `json:"verifier,omitempty"` // argon2id(Salt, pinHash)
	Retries     int       `json:"retries"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

const (
	pinStateVersion = 1
	saltSize        = 16
	verifierSize    = 32
)

// PINVaultOption changes a PINVault made by [NewPINVault].
type PINVaultOption func(*PINVault)

// WithClock makes the vault read the time from now; for tests.
func WithClock(now func() time.Time) PINVaultOption {
	return func(v *PINVault) { v.now = now }
}

// WithKDF sets the argon2id parameters of the next [PINVault.Set]; a stored
// PIN keeps the parameters it was set with. Tests use [CheapKDF].
func WithKDF(p KDFParams) PINVaultOption {
	return func(v *PINVault) { v.kdf = p }
}

// WithLockoutDelays replaces [DefaultLockoutDelays]: delays[i] follows the
// (4+i)th wrong PIN in a row; later ones reuse the last delay.
func WithLockoutDelays(delays ...time.Duration) PINVaultOption {
	return func(v *PINVault) { v.delays = delays }
}

// NewPINVault opens the vault kept in s, or an empty one (no PIN set).
func NewPINVault(s Settings, opts ...PINVaultOption) (*PINVault, error) {
	v := &PINVault{store: s, now: time.Now, kdf: DefaultKDF, delays: DefaultLockoutDelays}
	for _, opt := range opts {
		opt(v)
	}
	raw, err := s.Setting(SettingKey)
	if err != nil {
		return nil, fmt.Errorf("userverify: failed to read the PIN state: %w", err)
	}
	if v.state, err = decodePINState(raw); err != nil {
		return nil, err
	}
	return v, nil
}

func decodePINState(raw []byte) (pinState, error) {
	if len(raw) == 0 {
		return pinState{Version: pinStateVersion, Retries: MaxPINRetries}, nil
	}
	var st pinState
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("userverify: failed to decode the PIN state: %w", err)
	}
	switch {
	case st.Version != pinStateVersion:
		return st, fmt.Errorf("userverify: PIN state has unknown version %d", st.Version)
	case st.Retries < 0 || st.Retries > MaxPINRetries:
		return st, fmt.Errorf("userverify: PIN state has %d retries", st.Retries)
	case st.Verifier != nil && (len(st.Verifier) != verifierSize || len(st.Salt) == 0 || st.KDF.Time == 0):
		return st, errors.New("userverify: PIN state has a malformed verifier")
	}
	return st, nil
}

// PINHash returns LEFT(SHA-256(pin), 16), the form in which CTAP 2.1 §6.5.5
// carries a PIN and in which the vault takes it.
func PINHash(pin string) []byte {
	sum := sha256.Sum256([]byte(pin))
	return sum[:PINHashSize]
}

// IsSet reports whether a PIN is set.
func (v *PINVault) IsSet() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state.Verifier != nil
}

// Retries returns how many wrong PINs are left before the PIN is blocked
// (authenticatorClientPIN getPINRetries).
func (v *PINVault) Retries() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state.Retries
}

// LockedUntil returns the end of the current lockout delay, or the zero time
// when there is none.
func (v *PINVault) LockedUntil() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.now().Before(v.state.LockedUntil) {
		return v.state.LockedUntil
	}
	return time.Time{}
}

// Ready returns the error [PINVault.Check] would answer before comparing
// anything (ErrPINNotSet, ErrPINBlocked, ErrPINAuthBlocked, a *LockoutError),
// or nil when a PIN may be tried now. It uses no retry.
func (v *PINVault) Ready() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refusal()
}

func (v *PINVault) refusal() error {
	switch {
	case v.state.Verifier == nil:
		return ErrPINNotSet
	case v.state.Retries == 0:
		return ErrPINBlocked
	case v.consecutive >= maxConsecutive:
		return ErrPINAuthBlocked
	case v.now().Before(v.state.LockedUntil):
		return &LockoutError{Until: v.state.LockedUntil}
	}
	return nil
}

// Set stores a new PIN, given as its [PINHash], with a fresh salt, and
// restores the retries to [MaxPINRetries]. Checking the current PIN first,
// for changePIN, is the caller's business.
func (v *PINVault) Set(pinHash []byte) error {
	if len(pinHash) != PINHashSize {
		return fmt.Errorf("userverify: a PIN hash has %d bytes, want %d", len(pinHash), PINHashSize)
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	st := pinState{Version: pinStateVersion, Salt: salt, KDF: v.kdf, Retries: MaxPINRetries}
	st.Verifier = stretch(pinHash, salt, v.kdf)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.save(st); err != nil {
		return err
	}
	v.consecutive = 0
	return nil
}

// Check compares pinHash with the stored PIN. It answers nil for the right
// PIN, or ErrPINNotSet, ErrPINInvalid, ErrPINAuthBlocked, ErrPINBlocked, or a
// *LockoutError (matching ErrLockedOut) during a lockout delay.
func (v *PINVault) Check(pinHash []byte) error {
	if len(pinHash) != PINHashSize {
		return fmt.Errorf("userverify: a PIN hash has %d bytes, want %d", len(pinHash), PINHashSize)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.refusal(); err != nil {
		return err
	}
	// Pay for the try before comparing: a crash below costs a retry, never
	// grants one.
	paid := v.state
	paid.Retries--
	paid.LockedUntil = v.lockoutAfter(MaxPINRetries - paid.Retries)
	if err := v.save(paid); err != nil {
		return err
	}
	got := stretch(pinHash, v.state.Salt, v.state.KDF)
	if subtle.ConstantTimeCompare(got, v.state.Verifier) == 1 {
		return v.rightPIN()
	}
	v.consecutive++
	switch {
	case v.state.Retries == 0:
		return ErrPINBlocked
	case v.consecutive >= maxConsecutive:
		return ErrPINAuthBlocked
	}
	return ErrPINInvalid
}

func (v *PINVault) rightPIN() error {
	restored := v.state
	restored.Retries = MaxPINRetries
	restored.LockedUntil = time.Time{}
	v.consecutive = 0
	return v.save(restored)
}

// lockoutAfter returns when tries may resume after the nth wrong PIN in a row.
func (v *PINVault) lockoutAfter(n int) time.Time {
	i := n - (maxConsecutive + 1)
	if i < 0 || len(v.delays) == 0 {
		return time.Time{}
	}
	return v.now().Add(v.delays[min(i, len(v.delays)-1)])
}

// Reset forgets the PIN and restores the retries (authenticatorReset).
func (v *PINVault) Reset() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.save(pinState{Version: pinStateVersion, Retries: MaxPINRetries}); err != nil {
		return err
	}
	v.consecutive = 0
	return nil
}

// save persists st and, once it is durable, makes it the vault's state.
func (v *PINVault) save(st pinState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := v.store.PutSetting(SettingKey, raw); err != nil {
		return fmt.Errorf("userverify: failed to store the PIN state: %w", err)
	}
	v.state = st
	return nil
}

func stretch(pinHash, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(pinHash, salt, p.Time, p.Memory, p.Threads, verifierSize)
}
