package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// The structural twin of provider.Sealer: keystore cannot import provider,
// and provider's own test asserts the real interface.
var _ interface {
	NewKey(credID []byte) ([]byte, crypto.Signer, error)
	Signer(credID, sealed []byte) (crypto.Signer, error)
	Seal(credID, plaintext []byte) ([]byte, error)
	Open(credID, sealed []byte) ([]byte, error)
} = (*TPMSealer)(nil)

// eachTPM runs fn against a fresh swtpm and, when built with the tpmsim
// tag, against the in-process simulator.
func eachTPM(t *testing.T, fn func(t *testing.T, spec string)) {
	t.Run("swtpm", func(t *testing.T) { fn(t, startSWTPM(t).Spec()) })
	if openSimulator != nil {
		t.Run("sim", func(t *testing.T) { fn(t, "sim:1") })
	}
}

// openTestTPM opens a sealer and closes it when the test ends.
func openTestTPM(t testing.TB, spec, dir string) *TPMSealer {
	t.Helper()
	s, err := OpenTPM(spec, dir)
	if err != nil {
		t.Fatalf("OpenTPM(%q): %v", spec, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// signAndVerify signs a digest through signer and checks it with
// crypto/ecdsa against pub.
func signAndVerify(t *testing.T, signer crypto.Signer, pub *ecdsa.PublicKey) {
	t.Helper()
	digest := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
	sig, err := signer.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("the TPM's signature does not verify with crypto/ecdsa")
	}
}

func credID(n byte) []byte { return bytes.Repeat([]byte{n}, 16) }

func TestTPMNewKeySignVerify(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		blob, signer, err := s.NewKey(credID(1))
		if err != nil {
			t.Fatalf("NewKey: %v", err)
		}
		pub, ok := signer.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve.Params().Name != "P-256" {
			t.Fatalf("Public() = %T, want a P-256 *ecdsa.PublicKey", signer.Public())
		}
		signAndVerify(t, signer, pub)
		again, err := s.Signer(credID(1), blob)
		if err != nil {
			t.Fatalf("Signer: %v", err)
		}
		if !pub.Equal(again.Public()) {
			t.Fatal("Signer(blob).Public() differs from NewKey's")
		}
		signAndVerify(t, again, pub)
	})
}

func TestTPMSignRefusesOtherDigests(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	_, signer, err := s.NewKey(credID(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"short digest", make([]byte, 20), crypto.SHA256},
		{"SHA-384", make([]byte, 48), crypto.SHA384},
		{"SHA-256 length, SHA-1 opts", make([]byte, 32), crypto.SHA1},
	} {
		if _, err := signer.Sign(nil, tc.digest, tc.opts); err == nil {
			t.Errorf("%s: Sign succeeded, want an error", tc.name)
		}
	}
}

func TestTPMSealerSuite(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		// swtpm serves one connection at a time and the simulator is one per
		// process: the suite's second open in a test (Reopen) takes over
		// from the first, which that test no longer uses.
		var last *TPMSealer
		runSealerSuite(t, sealerBackend{persistent: true, open: func(t *testing.T, dir string) sealerUnderTest {
			if last != nil {
				last.Close()
			}
			last = openTestTPM(t, spec, dir)
			return last
		}})
	})
}

func TestTPMBlobBoundToCredential(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	blobA, _, err := s.NewKey(credID(0xA))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Signer(credID(0xB), blobA); !errors.Is(err, ErrSealedData) {
		t.Fatalf("Signer with another credential's blob: err = %v, want ErrSealedData", err)
	}
	if _, _, err := s.Certify(credID(0xB), blobA, nil); !errors.Is(err, ErrSealedData) {
		t.Fatalf("Certify with another credential's blob: err = %v, want ErrSealedData", err)
	}
	sealed, _ := s.Seal(credID(0xA), []byte("secret"))
	if _, err := s.Signer(credID(0xA), sealed); !errors.Is(err, ErrSealedData) {
		t.Fatalf("Signer with a Seal blob: err = %v, want ErrSealedData", err)
	}
}

func TestTPMMalformedBlobs(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	blob, _, err := s.NewKey(credID(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		blob []byte
	}{
		{"nil", nil},
		{"version only", []byte{tpmBlobV1}},
		{"wrong version", append([]byte{2}, blob[1:]...)},
		{"truncated", blob[:len(blob)-1]},
		{"trailing byte", append(slices.Clone(blob), 0)},
		{"public area only", blob[:3+int(blob[1])<<8|int(blob[2])]},
	} {
		if _, err := s.Signer(credID(1), tc.blob); !errors.Is(err, ErrSealedData) {
			t.Errorf("%s: err = %v, want ErrSealedData", tc.name, err)
		}
	}
}

func TestTPMTamperedPrivateRefusedByTPM(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	blob, _, err := s.NewKey(credID(1))
	if err != nil {
		t.Fatal(err)
	}
	blob[len(blob)-1] ^= 1 // inside TPM2B_PRIVATE's encrypted sensitive area
	_, err = s.Signer(credID(1), blob)
	if !errors.Is(err, ErrSealedData) || !strings.Contains(err.Error(), "the TPM refused it") {
		t.Fatalf("Signer with a tampered private blob: err = %v, want ErrSealedData from the TPM", err)
	}
	assertOnlyOwnObjects(t, s)
}

func TestTPMSealOpen(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		for _, secret := range [][]byte{{}, []byte("CredRandom: 32 bytes of entropy!"), make([]byte, 4096)} {
			sealed, err := s.Seal(credID(1), secret)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(secret) > 8 && bytes.Contains(sealed, secret) {
				t.Fatal("the sealed blob contains the plaintext")
			}
			got, err := s.Open(credID(1), sealed)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("Open = %q, %v; want %q", got, err, secret)
			}
			if _, err := s.Open(credID(2), sealed); !errors.Is(err, ErrSealedData) {
				t.Fatalf("Open for another credential: err = %v, want ErrSealedData", err)
			}
			sealed[len(sealed)-1] ^= 1
			if _, err := s.Open(credID(1), sealed); !errors.Is(err, ErrSealedData) {
				t.Fatalf("Open of a tampered blob: err = %v, want ErrSealedData", err)
			}
		}
	})
}

func TestTPMDataKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := openTestTPM(t, startSWTPM(t).Spec(), dir)
	fi, err := os.Stat(filepath.Join(dir, TPMDataKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", TPMDataKeyFile, fi.Mode().Perm())
	}
	blob, _ := os.ReadFile(filepath.Join(dir, TPMDataKeyFile))
	pub, priv, _ := splitTPMBlob(blob)
	k := &tpmKey{pub: tpm2.BytesAs2B[tpm2.TPMTPublic](pub), priv: tpm2.TPM2BPrivate{Buffer: priv}}
	var dataKey []byte
	err = s.locked(func() error {
		return s.load(k, func(h tpm2.NamedHandle) error {
			rsp, err := (tpm2.Unseal{ItemHandle: h}).Execute(s.tpm)
			if err == nil {
				dataKey = rsp.OutData.Buffer
			}
			return err
		})
	})
	if err != nil || len(dataKey) != 32 {
		t.Fatalf("unsealing the data key: %x, %v", dataKey, err)
	}
	if bytes.Contains(blob, dataKey) {
		t.Fatal("the data key file holds the data key in plaintext")
	}
}

func TestTPMDataKeyFileDamaged(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, TPMDataKeyFile), []byte("not a blob"), 0o600)
	_, err := OpenTPM(startSWTPM(t).Spec(), dir)
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("OpenTPM with a damaged data key file: err = %v, want one that says it is damaged", err)
	}
}

func TestTPMReopen(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		dir := t.TempDir()
		s1, err := OpenTPM(spec, dir)
		if err != nil {
			t.Fatal(err)
		}
		blob, signer, err := s1.NewKey(credID(1))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := s1.Seal(credID(1), []byte("largeBlobKey"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := signer.Sign(nil, make([]byte, 32), crypto.SHA256); !errors.Is(err, ErrClosed) {
			t.Fatalf("Sign after Close: err = %v, want ErrClosed", err)
		}
		s2 := openTestTPM(t, spec, dir)
		assertReusable(t, s2, blob, sealed, signer.Public().(*ecdsa.PublicKey))
	})
}

func TestTPMReopenAfterRestart(t *testing.T) {
	w := startSWTPM(t)
	dir := t.TempDir()
	s1, err := OpenTPM(w.Spec(), dir)
	if err != nil {
		t.Fatal(err)
	}
	blob, signer, _ := s1.NewKey(credID(1))
	sealed, _ := s1.Seal(credID(1), []byte("largeBlobKey"))
	s1.Close()
	w.Restart(t)
	s2 := openTestTPM(t, w.Spec(), dir)
	assertReusable(t, s2, blob, sealed, signer.Public().(*ecdsa.PublicKey))
}

func assertReusable(t *testing.T, s *TPMSealer, blob, sealed []byte, pub *ecdsa.PublicKey) {
	t.Helper()
	signer, err := s.Signer(credID(1), blob)
	if err != nil {
		t.Fatalf("Signer after reopen: %v", err)
	}
	signAndVerify(t, signer, pub)
	if got, err := s.Open(credID(1), sealed); err != nil || string(got) != "largeBlobKey" {
		t.Fatalf("Open after reopen = %q, %v", got, err)
	}
}

func TestTPMStateDirBinding(t *testing.T) {
	w := startSWTPM(t)
	dir := t.TempDir()
	s1, err := OpenTPM(w.Spec(), dir)
	if err != nil {
		t.Fatal(err)
	}
	blob, _, _ := s1.NewKey(credID(1))
	sealed, _ := s1.Seal(credID(1), []byte("secret"))
	s1.Close()
	// Another passkeyd state directory on the same TPM.
	other := openTestTPM(t, w.Spec(), t.TempDir())
	if _, err := other.Signer(credID(1), blob); !errors.Is(err, ErrSealedData) {
		t.Fatalf("Signer from another state directory: err = %v, want ErrSealedData", err)
	}
	if _, err := other.Open(credID(1), sealed); !errors.Is(err, ErrSealedData) {
		t.Fatalf("Open from another state directory: err = %v, want ErrSealedData", err)
	}
	other.Close()
	// The state directory moved to another TPM.
	_, err = OpenTPM(startSWTPM(t).Spec(), dir)
	if err == nil || !strings.Contains(err.Error(), "sealed by another TPM") {
		t.Fatalf("OpenTPM with another TPM's data key: err = %v, want one saying so", err)
	}
}

// assertOnlyOwnObjects checks that the TPM holds no transient object but
// the sealer's SRK and, once made, its attestation key.
func assertOnlyOwnObjects(t *testing.T, s *TPMSealer) {
	t.Helper()
	var handles []tpm2.TPMHandle
	err := s.locked(func() (err error) {
		handles, err = s.transientHandles()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []tpm2.TPMHandle{s.srk.Handle}
	if s.ak != nil {
		want = append(want, s.ak.handle.Handle)
	}
	slices.Sort(handles)
	slices.Sort(want)
	if !slices.Equal(handles, want) {
		t.Fatalf("transient handles = %x, want only the SRK and AK %x", handles, want)
	}
}

func TestTPMEveryTransientHandleFlushed(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		assertOnlyOwnObjects(t, s)
		blob, signer, err := s.NewKey(credID(1))
		if err != nil {
			t.Fatal(err)
		}
		assertOnlyOwnObjects(t, s)
		signAndVerify(t, signer, signer.Public().(*ecdsa.PublicKey))
		assertOnlyOwnObjects(t, s)
		sealed, _ := s.Seal(credID(1), []byte("x"))
		s.Open(credID(1), sealed)
		assertOnlyOwnObjects(t, s)
		if _, _, err := s.Certify(credID(1), blob, []byte("nonce")); err != nil {
			t.Fatal(err)
		}
		assertOnlyOwnObjects(t, s)
		if _, err := s.Signer(credID(1), blob[:5]); err == nil {
			t.Fatal("Signer accepted a truncated blob")
		}
		assertOnlyOwnObjects(t, s)

		raw := s.tpm.TPMCloser
		s.tpm.TPMCloser = nopCloser{raw} // keep the connection to look after Close
		s.Close()
		if left := transientHandlesOn(t, raw); len(left) > 0 {
			t.Fatalf("after Close the TPM still holds %x", left)
		}
		raw.Close()
	})
}

func TestTPMStaleObjectsFlushedAtOpen(t *testing.T) {
	w := startSWTPM(t)
	dir := t.TempDir()
	// Three runs that die without flushing: without the clean-up at open the
	// TPM runs out of object slots (swtpm has three).
	for i := range 4 {
		s, err := OpenTPM(w.Spec(), dir)
		if err != nil {
			t.Fatalf("open #%d after runs that died: %v", i+1, err)
		}
		if _, _, err := s.NewKey(credID(1)); err != nil {
			t.Fatalf("NewKey in run #%d: %v", i+1, err)
		}
		s.tpm.TPMCloser.Close() // the process dies: nothing flushed
	}
}

type nopCloser struct{ tpmTransport }

type tpmTransport interface{ Send([]byte) ([]byte, error) }

func (nopCloser) Close() error { return nil }

func transientHandlesOn(t *testing.T, tpm tpmTransport) []tpm2.TPMHandle {
	t.Helper()
	rsp, err := (tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 64}).Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	list, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		t.Fatal(err)
	}
	return list.Handle
}

// TestTPMFirstSignOnFreshSWTPM signs first thing on a just-started swtpm,
// where libtpms may still owe self-tests and answer TPM_RC_RETRY.
func TestTPMFirstSignOnFreshSWTPM(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	_, signer, err := s.NewKey(credID(1))
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, signer, signer.Public().(*ecdsa.PublicKey))
	t.Logf("retries on a fresh swtpm: %d", s.tpm.retries.Load())
}

// busyTPM stands between the sealer and a real TPM and answers the next
// `busy` commands of one kind with a warning instead of passing them on,
// as a TPM that is self-testing or was interrupted does.
type busyTPM struct {
	transport.TPMCloser
	cc   tpm2.TPMCC
	rc   tpm2.TPMRC
	busy int
}

func (b *busyTPM) Send(cmd []byte) ([]byte, error) {
	if b.busy > 0 && tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])) == b.cc {
		b.busy--
		return binary.BigEndian.AppendUint32([]byte{0x80, 0x01, 0, 0, 0, 10}, uint32(b.rc)), nil
	}
	return b.TPMCloser.Send(cmd)
}

func TestTPMRetry(t *testing.T) {
	w := startSWTPM(t)
	for _, tc := range []struct {
		name string
		rc   tpm2.TPMRC
		busy int
		ok   bool
	}{
		{"RETRY once", tpm2.TPMRCRetry, 1, true},
		{"YIELDED", tpm2.TPMRCYielded, 2, true},
		{"CANCELED", tpm2.TPMRCCanceled, 2, true},
		{"TESTING", tpm2.TPMRCTesting, 2, true},
		{"RETRY past the bound", tpm2.TPMRCRetry, 4, false},
		{"no retry on other warnings", tpm2.TPMRCObjectMemory, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenTPM(w.Spec(), t.TempDir(), TPMRetries(4, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, signer, err := s.NewKey(credID(1))
			if err != nil {
				t.Fatal(err)
			}
			s.tpm.TPMCloser = &busyTPM{TPMCloser: s.tpm.TPMCloser, cc: tpm2.TPMCCSign, rc: tc.rc, busy: tc.busy}
			digest := sha256.Sum256(nil)
			_, err = signer.Sign(nil, digest[:], crypto.SHA256)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, tc.rc)) {
				t.Fatalf("Sign: err = %v, want ok=%v or %v", err, tc.ok, tc.rc)
			}
			assertOnlyOwnObjects(t, s)
		})
	}
}

func TestTPMConcurrentSign(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, signer, err := s.NewKey(credID(byte(i)))
			if err != nil {
				t.Error(err)
				return
			}
			for range 5 {
				digest := sha256.Sum256([]byte{byte(i)})
				sig, err := signer.Sign(nil, digest[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(signer.Public().(*ecdsa.PublicKey), digest[:], sig) {
					t.Errorf("concurrent Sign: %v", err)
				}
			}
		})
	}
	wg.Wait()
	assertOnlyOwnObjects(t, s)
}
