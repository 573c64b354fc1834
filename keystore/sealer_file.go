package keystore

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
)

// File names in the state directory.
const (
	masterKeyFile  = "master.key"        // raw 32-byte master key, mode 0600
	passphraseFile = "passphrase.params" // argon2id parameters, salt and check value
)

// Errors of the file backend that callers branch on.
var (
	// ErrPassphraseRequired: the state directory was set up with a passphrase
	// and none was given.
	ErrPassphraseRequired = errors.New("keystore: this state directory is protected by a passphrase")
	// ErrWrongPassphrase: the passphrase does not match the one the state
	// directory was set up with.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
)

// FileSealer is the default Sealer. Its master key is either a random
// 256-bit key in the file master.key (mode 0600) of the state directory, or
// derived with argon2id from a passphrase and a salt stored in
// passphrase.params. Keys are sealed with AES-256-GCM bound to the credential
// ID. It implements the optional KeyImporter ability.
type FileSealer struct {
	*aeadSealer
}

// NewFileSealer opens the master key file in dir, creating the directory
// (0700) and a random key (0600) at first use. A key file readable or
// writable by others than its owner is refused.
func NewFileSealer(dir string) (*FileSealer, error) {
	if _, err := os.Stat(filepath.Join(dir, passphraseFile)); err == nil {
		return nil, fmt.Errorf("%w (%s)", ErrPassphraseRequired, dir)
	}
	master, err := loadOrCreateMasterKey(dir)
	if err != nil {
		return nil, err
	}
	defer clear(master)
	s, err := newAEADSealer(master)
	if err != nil {
		return nil, err
	}
	return &FileSealer{aeadSealer: s}, nil
}

// NewPassphraseSealer derives the master key from passphrase with argon2id.
// At first use it stores fresh parameters and salt in dir; later it fails
// with [ErrWrongPassphrase] when the passphrase differs. The caller obtains
// the passphrase (environment or prompt) and may clear it afterwards.
func NewPassphraseSealer(dir string, passphrase []byte) (*FileSealer, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("keystore: empty passphrase")
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
		return nil, fmt.Errorf("keystore: %s holds a master key file; it is not protected by a passphrase", dir)
	}
	master, err := passphraseMasterKey(dir, passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(master)
	s, err := newAEADSealer(master)
	if err != nil {
		return nil, err
	}
	return &FileSealer{aeadSealer: s}, nil
}

func loadOrCreateMasterKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, masterKeyFile)
	key, err := readPrivateFile(path, masterKeySize)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = newMasterKey()
	err = createPrivateFile(dir, masterKeyFile, key)
	if errors.Is(err, fs.ErrExist) { // another process created it first: use theirs
		clear(key)
		return readPrivateFile(path, masterKeySize)
	}
	if err != nil {
		clear(key)
		return nil, err
	}
	return key, nil
}

// readPrivateFile reads a file that must be a regular file of mode 0600 or
// stricter, of exactly size bytes when size > 0.
func readPrivateFile(path string, size int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keystore: %s has mode %04o: it protects secret keys and must be accessible by its owner only (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, err
	}
	if size > 0 && len(data) != size {
		clear(data)
		return nil, fmt.Errorf("keystore: %s is %d bytes, want %d: damaged?", path, len(data), size)
	}
	return data, nil
}

// createPrivateFile writes data to dir/name (mode 0600) durably and
// atomically; it fails with fs.ErrExist if the file is already there.
func createPrivateFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A hard link never replaces an existing file, unlike rename.
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncStateDir(dir)
}

func syncStateDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// kdfParams is the content of passphrase.params.
type kdfParams struct {
	Version   int    `json:"version"`
	KDF       string `json:"kdf"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
	Check     []byte `json:"check"` // HKDF of the master key: tells a wrong passphrase at once
}

// defaultKDF are the argon2id costs of a new passphrase: the second
// recommended option of RFC 9106 §4 (t=3, 64 MiB, p=4).
var defaultKDF = kdfParams{Version: 1, KDF: "argon2id", Time: 3, MemoryKiB: 64 << 10, Threads: 4}

const checkLabel = "passkeyd/v1 passphrase check"

func passphraseMasterKey(dir string, passphrase []byte) ([]byte, error) {
	path := filepath.Join(dir, passphraseFile)
	data, err := readPrivateFile(path, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return newPassphraseKey(dir, passphrase)
	}
	if err != nil {
		return nil, err
	}
	var p kdfParams
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("keystore: %s: %v", path, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("keystore: %s: %v", path, err)
	}
	master := p.derive(passphrase)
	if subtle.ConstantTimeCompare(passphraseCheck(master), p.Check) != 1 {
		clear(master)
		return nil, ErrWrongPassphrase
	}
	return master, nil
}

func newPassphraseKey(dir string, passphrase []byte) ([]byte, error) {
	p := defaultKDF
	p.Salt = make([]byte, 16)
	rand.Read(p.Salt)
	master := p.derive(passphrase)
	p.Check = passphraseCheck(master)
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := createPrivateFile(dir, passphraseFile, data); err != nil {
		clear(master)
		if errors.Is(err, fs.ErrExist) { // created concurrently: derive from theirs
			return passphraseMasterKey(dir, passphrase)
		}
		return nil, err
	}
	return master, nil
}

func (p *kdfParams) validate() error {
	switch {
	case p.Version != 1 || p.KDF != "argon2id":
		return fmt.Errorf("unsupported version %d / kdf %q", p.Version, p.KDF)
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("argon2id time %d out of range 1..64", p.Time)
	case p.MemoryKiB < 8<<10 || p.MemoryKiB > 4<<20:
		return fmt.Errorf("argon2id memory %d KiB out of range 8 MiB..4 GiB", p.MemoryKiB)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case len(p.Salt) < 16 || len(p.Check) != 16:
		return errors.New("salt or check value has the wrong length")
	}
	return nil
}

func (p *kdfParams) derive(passphrase []byte) []byte {
	return argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, masterKeySize)
}

func passphraseCheck(master []byte) []byte {
	c, err := hkdf.Key(sha256.New, master, nil, checkLabel, 16)
	if err != nil {
		panic(err) // unreachable: 16 bytes is a valid HKDF-SHA256 length
	}
	return c
}
