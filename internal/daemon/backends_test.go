package daemon_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/go-tpm/tpm2"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/testenv"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/zalando/go-keyring"
)

// The key backends (--keystore file, keyring, tpm) each run the same
// journey through daemon.Start, against the real parts (REAL-PARTS.md):
// register two passkeys, sign in, stop, look at every file in the state
// directory for private keys, restart, sign in again. go-webauthn is the
// relying party, through the Credential Manager front door.

const (
	backendRP     = "example.com"
	backendOrigin = "https://example.com"
)

func TestBackendFile(t *testing.T) {
	cfg := backendConfig(t, "file")
	backendJourney(t, cfg, nil, func(t *testing.T, ids [][]byte) {
		s, err := keystore.NewFileSealer(cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		master, err := os.ReadFile(filepath.Join(cfg.StateDir, "master.key"))
		if err != nil || len(master) != 32 {
			t.Fatalf("master.key: %v (%d bytes)", err, len(master))
		}
		checkSoftwareSealed(t, cfg.StateDir, s, ids, secret{"the master key", master, "master.key"})
	})
}

func TestBackendKeyring(t *testing.T) {
	if !testenv.InDBusSession(t, testenv.SessionUnlockedKeyring) {
		return
	}
	cfg := backendConfig(t, "keyring")
	backendJourney(t, cfg, nil, func(t *testing.T, ids [][]byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := keystore.NewKeyringSealer(ctx, cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		encoded, err := keyring.Get(keystore.KeyringService, s.User())
		if err != nil {
			t.Fatalf("the master key is not in the keyring: %v", err)
		}
		master, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(master) != 32 {
			t.Fatalf("the keyring entry is not a 32-byte master key (%v)", err)
		}
		if _, err := os.Stat(filepath.Join(cfg.StateDir, "master.key")); err == nil {
			t.Error("the keyring backend wrote master.key")
		}
		checkSoftwareSealed(t, cfg.StateDir, s, ids, secret{name: "the keyring's master key", value: master})
	})
}

func TestBackendTPM(t *testing.T) {
	w := testenv.StartSWTPM(t)
	cfg := backendConfig(t, "tpm")
	cfg.TPM = w.Spec()
	// Between the two runs swtpm restarts on the same state, as the machine
	// would reboot: nothing stays loaded in the TPM, the blobs must do.
	restart := func(t *testing.T, cfg *daemon.Config) {
		w.Restart(t)
		cfg.TPM = w.Spec()
	}
	backendJourney(t, cfg, restart, func(t *testing.T, ids [][]byte) {
		checkTPMSealed(t, cfg, ids)
	})
}

// backendConfig is passkeyd serve --keystore kind --uv approve with fresh
// directories. The runtime directory is short: a socket path must fit in
// 108 bytes.
func backendConfig(t *testing.T, kind string) daemon.Config {
	t.Helper()
	run, err := os.MkdirTemp("", "pkd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	return daemon.Config{StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: run,
		Keystore: kind, UV: "approve", UVTimeout: time.Minute, Version: "test"}
}

// runDaemon starts a daemon and returns it with an idempotent stop, also
// called when the test ends.
func runDaemon(t *testing.T, cfg daemon.Config) (*daemon.Daemon, func()) {
	t.Helper()
	d, err := daemon.Start(cfg)
	if err != nil {
		t.Fatalf("daemon.Start(--keystore %s): %v", cfg.Keystore, err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return d, stop
}

// creatorFor and getterFor answer go-webauthn's options through the
// daemon's Credential Manager front door, as a browser at the origin would.
func creatorFor(d *daemon.Daemon) testrp.Client {
	cm := credman.New(d.P)
	return func(opts []byte) ([]byte, error) {
		resp, err := cm.Create(context.Background(), credman.CreateRequest{RequestJSON: opts, Origin: backendOrigin})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

func getterFor(d *daemon.Daemon) testrp.Client {
	cm := credman.New(d.P)
	return func(opts []byte) ([]byte, error) {
		resp, err := cm.Get(context.Background(), credman.GetRequest{RequestJSON: opts, Origin: backendOrigin})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

var discoverable = webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
	ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired})

// backendJourney registers two passkeys (one asked to be discoverable),
// signs in with each and without naming the user, stops the daemon, runs between (if any) and check, starts it again
// on the same state and signs in again: go-webauthn verifies every
// signature and that the counters only grow.
func backendJourney(t *testing.T, cfg daemon.Config, between func(*testing.T, *daemon.Config), check func(*testing.T, [][]byte)) {
	rp := testrp.New(t, backendRP, backendOrigin)
	alice, bob := testrp.NewUser("alice"), testrp.NewUser("bob")
	d, stop := runDaemon(t, cfg)
	if _, err := rp.Register(alice, creatorFor(d), discoverable); err != nil {
		t.Fatalf("registration: %v", err)
	}
	if _, err := rp.Register(bob, creatorFor(d)); err != nil {
		t.Fatalf("registration: %v", err)
	}
	signIn := func(when string) {
		t.Helper()
		for _, u := range []*testrp.User{alice, bob} {
			if _, err := rp.Login(u, getterFor(d)); err != nil {
				t.Fatalf("sign-in of %s %s: %v", u.Name, when, err)
			}
		}
		if who, _, err := rp.DiscoverableLogin([]*testrp.User{alice, bob}, getterFor(d)); err != nil || who == nil {
			t.Fatalf("discoverable sign-in %s: %v", when, err)
		}
	}
	signIn("after registration")
	stop()

	ids := [][]byte{alice.Creds[0].ID, bob.Creds[0].ID}
	checkStateModes(t, cfg.StateDir)
	check(t, ids)
	if between != nil {
		between(t, &cfg)
	}
	before := alice.Creds[0].Authenticator.SignCount
	d, _ = runDaemon(t, cfg)
	signIn("after a restart")
	if after := alice.Creds[0].Authenticator.SignCount; after <= before || before == 0 {
		t.Errorf("alice's counter went from %d to %d across the restart", before, after)
	}
}

// checkStateModes checks the contract on the state directory: files 0600,
// folders 0700, nothing open to group or others.
func checkStateModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: open to group or others", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedKeys reads the sealed private keys of ids from the stopped
// daemon's store.
func storedKeys(t *testing.T, stateDir string, ids [][]byte) [][]byte {
	t.Helper()
	db, err := keystore.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed [][]byte
	for _, id := range ids {
		rec, err := db.Credential(id)
		if err != nil {
			t.Fatalf("credential %x: %v", id, err)
		}
		sealed = append(sealed, rec.SealedKey)
	}
	return sealed
}

// secret is a value that may appear in no file of the state directory
// other than its home ("" for none).
type secret struct {
	name  string
	value []byte
	home  string
}

// signerOpener is the part of a sealer that opens stored keys.
type signerOpener interface {
	Signer(credID, sealed []byte) (crypto.Signer, error)
}

// checkSoftwareSealed opens each stored key with a sealer on the state
// directory, opened anew as the daemon would, takes the private scalar the
// signer holds (what an export would reveal) and looks for it in every file
// of the directory; likewise for the extra secrets.
func checkSoftwareSealed(t *testing.T, stateDir string, sealer signerOpener, ids [][]byte, extra ...secret) {
	t.Helper()
	secrets := extra
	for i, sealed := range storedKeys(t, stateDir, ids) {
		signer, err := sealer.Signer(ids[i], sealed)
		if err != nil {
			t.Fatalf("the stored key of %x does not open: %v", ids[i], err)
		}
		k, ok := signer.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("the signer is a %T, not a software key", signer)
		}
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret{name: "the private key of " + hex.EncodeToString(ids[i]), value: d})
	}
	if found := scanState(t, stateDir, secrets); len(found) > 0 {
		t.Errorf("secrets in plaintext in the state directory: %s", strings.Join(found, "; "))
	}
	// The scan must be able to see a leak.
	leak := filepath.Join(stateDir, "leak")
	os.WriteFile(leak, []byte(hex.EncodeToString(secrets[len(secrets)-1].value)), 0o600)
	if found := scanState(t, stateDir, secrets); len(found) != 1 {
		t.Errorf("the scan missed a planted private key: %v", found)
	}
	os.Remove(leak)
}

// scanState lists the secrets found, raw, in hex or in base64, in the files
// under dir.
func scanState(t *testing.T, dir string, secrets []secret) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if e.Name() == s.home {
				continue
			}
			for _, form := range [][]byte{s.value, []byte(hex.EncodeToString(s.value)), []byte(strings.ToUpper(hex.EncodeToString(s.value))),
				[]byte(base64.StdEncoding.EncodeToString(s.value)), []byte(base64.RawURLEncoding.EncodeToString(s.value))} {
				if bytes.Contains(data, form) {
					found = append(found, s.name+" in "+path)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkTPMSealed checks that the store holds, for each credential, only a
// TPM-wrapped blob: a version byte, the key's TPM2B_PUBLIC (the credential
// public key that the relying party got, bound to the credential) and its
// TPM2B_PRIVATE, which only the TPM can open. No software key exists to
// look for: the signer the sealer gives back holds no private key.
func checkTPMSealed(t *testing.T, cfg daemon.Config, ids [][]byte) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "master.key")); err == nil {
		t.Error("the TPM backend wrote master.key")
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, keystore.TPMDataKeyFile)); err != nil {
		t.Errorf("no TPM-sealed data key: %v", err)
	}
	stored := storedKeys(t, cfg.StateDir, ids)
	s, err := keystore.OpenTPM(cfg.TPM, cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, sealed := range stored {
		pubArea, err := s.CredentialPublicArea(ids[i], sealed)
		if err != nil {
			t.Fatalf("the stored key of %x is not this TPM's credential key: %v", ids[i], err)
		}
		priv, ok := tpmBlobRest(sealed, pubArea)
		if !ok {
			t.Fatalf("the stored key of %x is not 0x01 || TPM2B_PUBLIC || TPM2B_PRIVATE: %x", ids[i], sealed)
		}
		if len(priv) < 32+16 { // at least an integrity HMAC, an IV and the encrypted sensitive area
			t.Errorf("the TPM2B_PRIVATE of %x is %d bytes: too short to be wrapped", ids[i], len(priv))
		}
		signer, err := s.Signer(ids[i], sealed)
		if err != nil {
			t.Fatal(err)
		}
		if _, soft := signer.(*ecdsa.PrivateKey); soft {
			t.Errorf("the TPM backend gave a software key for %x", ids[i])
		}
		if !signer.Public().(*ecdsa.PublicKey).Equal(tpmPublicKey(t, pubArea)) {
			t.Errorf("the public area of %x is not the signer's key", ids[i])
		}
	}
}

// tpmBlobRest checks that blob is 0x01 || TPM2B_PUBLIC(pubArea) ||
// TPM2B_PRIVATE and returns the private part.
func tpmBlobRest(blob, pubArea []byte) ([]byte, bool) {
	head := append([]byte{1}, binary.BigEndian.AppendUint16(nil, uint16(len(pubArea)))...)
	head = append(head, pubArea...)
	rest, ok := bytes.CutPrefix(blob, head)
	if !ok || len(rest) < 2 || int(binary.BigEndian.Uint16(rest)) != len(rest)-2 {
		return nil, false
	}
	return rest[2:], true
}

func tpmPublicKey(t *testing.T, pubArea []byte) *ecdsa.PublicKey {
	t.Helper()
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubArea)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := pub.Unique.ECC()
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 32), make([]byte, 32)
	copy(x[32-len(pt.X.Buffer):], pt.X.Buffer)
	copy(y[32-len(pt.Y.Buffer):], pt.Y.Buffer)
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Failures at start: each is a clear error, quickly.

func TestBackendTPMNotRunning(t *testing.T) {
	cfg := backendConfig(t, "tpm")
	cfg.TPM = "tcp:127.0.0.1:" + strconv.Itoa(testenv.FreePortPair(t))
	err := startFails(t, cfg)
	if !errors.Is(err, keystore.ErrTPMUnavailable) || !strings.Contains(err.Error(), "start swtpm") {
		t.Errorf("got %v, want ErrTPMUnavailable saying to start swtpm", err)
	}
}

func TestBackendKeyringLocked(t *testing.T) {
	if testenv.InDBusSession(t, testenv.SessionLockedKeyring) {
		expectKeyringStartError(t, backendConfig(t, "keyring"))
	}
}

func TestBackendKeyringWithoutSecretService(t *testing.T) {
	if testenv.InDBusSession(t, testenv.SessionNoSecretService) {
		expectKeyringStartError(t, backendConfig(t, "keyring"))
	}
}

// TestBackendKeyringEntryMissing removes the master key from the keyring
// between two starts: the state directory's passkeys cannot be opened, and
// the daemon says so rather than making a new key.
func TestBackendKeyringEntryMissing(t *testing.T) {
	if !testenv.InDBusSession(t, testenv.SessionUnlockedKeyring) {
		return
	}
	cfg := backendConfig(t, "keyring")
	_, stop := runDaemon(t, cfg)
	stop()
	id, err := os.ReadFile(filepath.Join(cfg.StateDir, "keyring.id"))
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Delete(keystore.KeyringService, strings.TrimSpace(string(id))); err != nil {
		t.Fatal(err)
	}
	err = expectKeyringStartError(t, cfg)
	if err != nil && !strings.Contains(err.Error(), "missing") {
		t.Errorf("%q does not say the entry is missing", err)
	}
}

// startFails starts a daemon that must fail within three seconds.
func startFails(t *testing.T, cfg daemon.Config) error {
	t.Helper()
	began := time.Now()
	d, err := daemon.Start(cfg)
	took := time.Since(began)
	if err == nil {
		d.Shutdown(context.Background())
		t.Fatalf("daemon.Start(--keystore %s) succeeded", cfg.Keystore)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	if took > 3*time.Second {
		t.Errorf("failing took %v", took)
	}
	if entries, _ := os.ReadDir(cfg.RuntimeDir); len(entries) > 0 {
		t.Errorf("a failed start left %d files in the runtime directory", len(entries))
	}
	return err
}

func expectKeyringStartError(t *testing.T, cfg daemon.Config) error {
	t.Helper()
	err := startFails(t, cfg)
	if !errors.Is(err, keystore.ErrKeyringUnavailable) {
		t.Errorf("got %v, want ErrKeyringUnavailable", err)
	}
	return err
}
