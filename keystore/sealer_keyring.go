package keystore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// KeyringService is the service name of passkeyd's entries in the OS keyring.
const KeyringService = "passkeyd"

// keyringIDFile names the file in the state directory that holds the
// keyring user name of its master key, so the entry survives a renamed
// directory. It is not secret.
const keyringIDFile = "keyring.id"

// keyringTimeout caps every keyring call: go-keyring talks to the Secret
// Service over D-Bus, and a call that no one answers would otherwise block.
const keyringTimeout = 10 * time.Second

// ErrKeyringUnavailable means the OS keyring could not be used: no Secret
// Service, a locked collection, no answer in time, or a missing entry. The
// wrapped message says which.
var ErrKeyringUnavailable = errors.New("keystore: the OS keyring cannot be used")

// KeyringSealer keeps its master key in the OS keyring (Secret Service on
// Linux, Keychain on macOS, Credential Manager on Windows) under service
// [KeyringService] and a user name that identifies the state directory. It
// seals exactly like [FileSealer]: only the master key's home differs. It
// implements the optional KeyImporter ability.
type KeyringSealer struct {
	*aeadSealer
	user string
}

// keyringAPI is the part of go-keyring used here.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
}

type osKeyring struct{}

func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (osKeyring) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }

// NewKeyringSealer fetches the master key of the state directory dir from
// the OS keyring, creating both at first use. It gives up when ctx ends or
// after ten seconds, whichever comes first, with [ErrKeyringUnavailable];
// it never hangs. The entry's user name is kept in dir/keyring.id.
func NewKeyringSealer(ctx context.Context, dir string) (*KeyringSealer, error) {
	return newKeyringSealer(ctx, dir, osKeyring{})
}

func newKeyringSealer(ctx context.Context, dir string, kr keyringAPI) (*KeyringSealer, error) {
	ctx, cancel := context.WithTimeout(ctx, keyringTimeout)
	defer cancel()
	user, master, err := keyringMasterKey(ctx, dir, kr)
	if err != nil {
		return nil, err
	}
	defer clear(master)
	s, err := newAEADSealer(master)
	if err != nil {
		return nil, err
	}
	return &KeyringSealer{aeadSealer: s, user: user}, nil
}

// User returns the keyring user name under which the master key is stored.
func (s *KeyringSealer) User() string { return s.user }

func keyringMasterKey(ctx context.Context, dir string, kr keyringAPI) (string, []byte, error) {
	idPath := filepath.Join(dir, keyringIDFile)
	id, err := readPrivateFile(idPath, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyringEntry(ctx, dir, kr)
	}
	if err != nil {
		return "", nil, err
	}
	user := strings.TrimSpace(string(id))
	encoded, err := withTimeout(ctx, func() (string, error) { return kr.Get(KeyringService, user) })
	if errors.Is(err, keyring.ErrNotFound) {
		return "", nil, fmt.Errorf("%w: the master key of %s (service %q, user %q) is missing from the keyring; "+
			"its credentials cannot be opened", ErrKeyringUnavailable, dir, KeyringService, user)
	}
	if err != nil {
		return "", nil, keyringError(err)
	}
	master, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(master) != masterKeySize {
		return "", nil, fmt.Errorf("%w: the keyring entry %q/%q is not a passkeyd master key", ErrKeyringUnavailable, KeyringService, user)
	}
	return user, master, nil
}

// createKeyringEntry stores a new master key in the keyring, then records
// its user name in the state directory. A crash in between leaves an unused
// keyring entry, never a state directory whose key is lost.
func createKeyringEntry(ctx context.Context, dir string, kr keyringAPI) (string, []byte, error) {
	user := "state-" + strings.ToLower(rand.Text())
	master := newMasterKey()
	secret := base64.StdEncoding.EncodeToString(master)
	_, err := withTimeout(ctx, func() (string, error) { return "", kr.Set(KeyringService, user, secret) })
	if err != nil {
		clear(master)
		return "", nil, keyringError(err)
	}
	if err := createPrivateFile(dir, keyringIDFile, []byte(user+"\n")); err != nil {
		clear(master)
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its entry
			return keyringMasterKey(ctx, dir, kr)
		}
		return "", nil, err
	}
	return user, master, nil
}

// withTimeout runs a keyring call and stops waiting for it when ctx ends.
// A call that never returns leaks its goroutine, which is the price of
// not hanging on a D-Bus peer that does not answer.
func withTimeout(ctx context.Context, call func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := call()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("no answer from the keyring service: %w", ctx.Err())
	}
}

func keyringError(err error) error {
	return fmt.Errorf("%w: %v (on Linux: is a Secret Service such as gnome-keyring running and unlocked?)", ErrKeyringUnavailable, err)
}
