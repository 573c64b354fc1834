package userverify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"
)

// memSettings is an in-memory Settings that can be told to fail.
type memSettings struct {
	mu      sync.Mutex
	values  map[string][]byte
	puts    int
	failPut error
}

func newMemSettings() *memSettings { return &memSettings{values: map[string][]byte{}} }

func (s *memSettings) Setting(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.values[key]), nil
}

func (s *memSettings) PutSetting(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPut != nil {
		return s.failPut
	}
	s.puts++
	s.values[key] = bytes.Clone(value)
	return nil
}

func (s *memSettings) raw(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.values[key])
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openVault opens the vault kept in s, as a restarted daemon would.
func openVault(t *testing.T, s Settings, clock *fakeClock) *PINVault {
	t.Helper()
	v, err := NewPINVault(s, WithKDF(CheapKDF), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func setPIN(t *testing.T, v *PINVault, pin string) {
	t.Helper()
	if err := v.Set(PINHash(pin)); err != nil {
		t.Fatal(err)
	}
}

func TestPINVaultRightAndWrongPIN(t *testing.T) {
	clock := newFakeClock()
	v := openVault(t, newMemSettings(), clock)
	if v.IsSet() || v.Retries() != MaxPINRetries {
		t.Fatalf("a new vault: IsSet=%v Retries=%d", v.IsSet(), v.Retries())
	}
	wantErr(t, v.Check(PINHash("1234")), ErrPINNotSet)
	setPIN(t, v, "1234")
	wantErr(t, v.Check(PINHash("1234")), nil)
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	if v.Retries() != 6 {
		t.Fatalf("Retries = %d after 2 wrong PINs, want 6", v.Retries())
	}
	wantErr(t, v.Check(PINHash("1234")), nil)
	if v.Retries() != MaxPINRetries {
		t.Fatalf("a right PIN left %d retries", v.Retries())
	}
	// The consecutive count was reset too: 2 more wrong PINs are not 3 in a row.
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	wantErr(t, v.Check(PINHash("1234")), nil)
}

func TestPINVaultAuthBlockedUntilRestart(t *testing.T) {
	clock := newFakeClock()
	store := newMemSettings()
	v := openVault(t, store, clock)
	setPIN(t, v, "1234")
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
	wantErr(t, v.Check(PINHash("0000")), ErrPINAuthBlocked)
	// Blocked even for the right PIN, without using a retry.
	wantErr(t, v.Check(PINHash("1234")), ErrPINAuthBlocked)
	wantErr(t, v.Ready(), ErrPINAuthBlocked)
	if v.Retries() != 5 {
		t.Fatalf("Retries = %d, want 5", v.Retries())
	}

	restarted := openVault(t, store, clock)
	if restarted.Retries() != 5 {
		t.Fatalf("retries did not survive a restart: %d", restarted.Retries())
	}
	wantErr(t, restarted.Check(PINHash("1234")), nil)
	if restarted.Retries() != MaxPINRetries {
		t.Fatalf("Retries = %d after the right PIN", restarted.Retries())
	}
}

func TestPINVaultBlockedAtZero(t *testing.T) {
	clock := newFakeClock()
	store := newMemSettings()
	setPIN(t, openVault(t, store, clock), "1234")
	wrong := 0
	for restart := 0; wrong < MaxPINRetries; restart++ {
		v := openVault(t, store, clock)
		for range 3 {
			clock.Advance(time.Hour) // past any lockout
			err := v.Check(PINHash("9999"))
			wrong++
			want := ErrPINInvalid
			switch {
			case wrong == MaxPINRetries:
				want = ErrPINBlocked
			case wrong%3 == 0:
				want = ErrPINAuthBlocked
			}
			wantErr(t, err, want)
			if wrong == MaxPINRetries {
				break
			}
		}
	}
	v := openVault(t, store, clock)
	clock.Advance(time.Hour)
	wantErr(t, v.Check(PINHash("1234")), ErrPINBlocked)
	if v.Retries() != 0 || !v.IsSet() {
		t.Fatalf("Retries=%d IsSet=%v", v.Retries(), v.IsSet())
	}
	if err := v.Reset(); err != nil {
		t.Fatal(err)
	}
	if v.IsSet() || v.Retries() != MaxPINRetries {
		t.Fatalf("after Reset: IsSet=%v Retries=%d", v.IsSet(), v.Retries())
	}
	wantErr(t, openVault(t, store, clock).Check(PINHash("1234")), ErrPINNotSet)
}

func TestPINVaultLockoutDelays(t *testing.T) {
	clock := newFakeClock()
	store := newMemSettings()
	v := openVault(t, store, clock)
	setPIN(t, v, "1234")
	for range 3 {
		_ = v.Check(PINHash("0000"))
	}
	if !v.LockedUntil().IsZero() {
		t.Fatalf("locked out after 3 wrong PINs: %v", v.LockedUntil())
	}
	for i, delay := range DefaultLockoutDelays {
		v = openVault(t, store, clock) // a restart clears the 3-in-a-row block
		wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
		until := v.LockedUntil()
		if want := clock.Now().Add(delay); !until.Equal(want) {
			t.Fatalf("wrong PIN #%d: locked until %v, want %v", 4+i, until, want)
		}
		retries := v.Retries()
		// During the lockout even the right PIN is refused, and no retry is used.
		err := v.Check(PINHash("1234"))
		var lockout *LockoutError
		if !errors.Is(err, ErrLockedOut) || !errors.As(err, &lockout) || !lockout.Until.Equal(until) {
			t.Fatalf("Check during a lockout = %v", err)
		}
		if v.Retries() != retries {
			t.Fatal("a Check during a lockout used a retry")
		}
		// A restart in the middle of the lockout keeps it.
		clock.Advance(delay / 2)
		v = openVault(t, store, clock)
		wantErr(t, v.Check(PINHash("1234")), ErrLockedOut)
		clock.Advance(delay - delay/2)
		if !v.LockedUntil().IsZero() {
			t.Fatal("still locked out when the delay has passed")
		}
	}
	wantErr(t, v.Check(PINHash("0000")), ErrPINBlocked)
}

func TestPINVaultRightPINEndsLockoutCycle(t *testing.T) {
	clock := newFakeClock()
	store := newMemSettings()
	v := openVault(t, store, clock)
	setPIN(t, v, "1234")
	for range 3 {
		_ = v.Check(PINHash("0000"))
	}
	v = openVault(t, store, clock)
	_ = v.Check(PINHash("0000"))
	clock.Advance(DefaultLockoutDelays[0])
	wantErr(t, v.Check(PINHash("1234")), nil)
	// The count of wrong PINs in a row starts again: no lockout for a while.
	for range 2 {
		wantErr(t, v.Check(PINHash("0000")), ErrPINInvalid)
		if !v.LockedUntil().IsZero() {
			t.Fatal("locked out after a fresh start")
		}
	}
}

func TestPINVaultPaysBeforeComparing(t *testing.T) {
	clock := newFakeClock()
	store := newMemSettings()
	v := openVault(t, store, clock)
	setPIN(t, v, "1234")
	// The store fails on the second write of a Check (restoring the retries):
	// the first write, the paid try, must be durable already.
	var writes int
	v.store = settingsFunc{store, func() error {
		writes++
		if writes == 2 {
			return errors.New("disk full")
		}
		return nil
	}}
	if err := v.Check(PINHash("1234")); err == nil {
		t.Fatal("Check succeeded though the store failed")
	}
	if got := openVault(t, store, clock).Retries(); got != MaxPINRetries-1 {
		t.Fatalf("the crashed check left %d retries on disk, want %d", got, MaxPINRetries-1)
	}
	// A store that fails at once refuses the try and keeps the retries.
	store.failPut = errors.New("read-only")
	v = openVault(t, store, clock)
	if err := v.Check(PINHash("0000")); err == nil || errors.Is(err, ErrPINInvalid) {
		t.Fatalf("Check with a failing store = %v", err)
	}
	if v.Retries() != MaxPINRetries-1 {
		t.Fatalf("an unpaid try changed the retries to %d", v.Retries())
	}
}

// settingsFunc runs before each PutSetting and may fail it.
type settingsFunc struct {
	*memSettings
	before func() error
}

func (s settingsFunc) PutSetting(key string, value []byte) error {
	if err := s.before(); err != nil {
		return err
	}
	return s.memSettings.PutSetting(key, value)
}

func TestPINVaultStoresNoSecret(t *testing.T) {
	store := newMemSettings()
	v := openVault(t, store, newFakeClock())
	pin := "271828"
	hash := PINHash(pin)
	setPIN(t, v, pin)
	_ = v.Check(PINHash("000000"))
	raw := store.raw(SettingKey)
	if len(raw) == 0 {
		t.Fatal("nothing stored")
	}
	for _, secret := range [][]byte{
		[]byte(pin), hash, []byte(hex.EncodeToString(hash)),
		[]byte(base64.StdEncoding.EncodeToString(hash)), []byte(base64.RawURLEncoding.EncodeToString(hash)),
		[]byte(base64.StdEncoding.EncodeToString(hash)[:20]),
	} {
		if bytes.Contains(raw, secret) {
			t.Fatalf("the stored state %s contains %q", raw, secret)
		}
	}
	// Two vaults with the same PIN store different verifiers: the salt is random.
	other := newMemSettings()
	setPIN(t, openVault(t, other, newFakeClock()), pin)
	a, _ := decodePINState(store.raw(SettingKey))
	b, _ := decodePINState(other.raw(SettingKey))
	if bytes.Equal(a.Verifier, b.Verifier) || bytes.Equal(a.Salt, b.Salt) {
		t.Fatal("same verifier for the same PIN in two vaults")
	}
	if a.KDF != CheapKDF {
		t.Fatalf("parameters not recorded: %+v", a.KDF)
	}
}

func TestPINVaultKeepsParametersOfStoredPIN(t *testing.T) {
	store := newMemSettings()
	clock := newFakeClock()
	setPIN(t, openVault(t, store, clock), "1234")
	v, err := NewPINVault(store, WithKDF(KDFParams{Time: 3, Memory: 64, Threads: 2}), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, v.Check(PINHash("1234")), nil)
}

func TestPINVaultRejectsBadState(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":      "{",
		"future format": `{"v":2,"retries":8}`,
		"retries":       `{"v":1,"retries":9}`,
		"short hash":    `{"v":1,"retries":8,"salt":"AAAA","kdf":{"t":1,"m":8,"p":1},"verifier":"AAAA"}`,
	} {
		t.Run(name, func(t *testing.T) {
			store := newMemSettings()
			store.values[SettingKey] = []byte(raw)
			if _, err := NewPINVault(store); err == nil {
				t.Fatal("opened a bad state")
			}
		})
	}
}

func TestPINVaultSetRejectsBadHash(t *testing.T) {
	v := openVault(t, newMemSettings(), newFakeClock())
	if err := v.Set([]byte("short")); err == nil {
		t.Fatal("Set took a 5-byte PIN hash")
	}
	if v.IsSet() {
		t.Fatal("a rejected Set set a PIN")
	}
}

func TestPINHashIsCTAPForm(t *testing.T) {
	// LEFT(SHA-256("1234"), 16)
	want, _ := hex.DecodeString("03ac674216f3e15c761ee1a5e255f067")
	if got := PINHash("1234"); !bytes.Equal(got, want) {
		t.Fatalf("PINHash = %x", got)
	}
}

func TestPINVaultConcurrentChecks(t *testing.T) {
	v := openVault(t, newMemSettings(), newFakeClock())
	setPIN(t, v, "1234")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			pin := "1234"
			if i%7 == 0 {
				pin = "0000"
			}
			_ = v.Check(PINHash(pin))
		})
	}
	wg.Wait()
	wantErr(t, v.Check(PINHash("1234")), nil)
}

func TestPINVaultDefaultCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures time")
	}
	v, err := NewPINVault(newMemSettings())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	setPIN(t, v, "1234")
	wantErr(t, v.Check(PINHash("1234")), nil)
	if per := time.Since(start) / 2; per < 5*time.Millisecond {
		t.Fatalf("the default KDF costs %v: too cheap", per)
	}
}
