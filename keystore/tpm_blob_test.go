package keystore

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// TestTPMKeyBlobV1Golden pins the version-1 key blob format with a blob that
// swtpm made: it must keep decoding to the same public key.
func TestTPMKeyBlobV1Golden(t *testing.T) {
	blob, err := os.ReadFile("testdata/tpm-key-v1.blob")
	if err != nil {
		t.Fatal(err)
	}
	wantHex, _ := os.ReadFile("testdata/tpm-key-v1.pub.hex")
	pub, priv, ok := splitTPMBlob(blob)
	if !ok {
		t.Fatal("the v1 golden blob no longer splits")
	}
	k, err := newCredentialKey(authPolicyOf(t, pub), pub, priv)
	if err != nil {
		t.Fatalf("the v1 golden blob no longer decodes: %v", err)
	}
	got, _ := k.public.Bytes()
	if hex.EncodeToString(got) != strings.TrimSpace(string(wantHex)) {
		t.Fatalf("public key %x, want %s", got, wantHex)
	}
	if !bytes.Equal(k.encode(), blob) {
		t.Fatal("re-encoding the golden blob changed it")
	}
}

func authPolicyOf(t testing.TB, pubArea []byte) []byte {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubArea)
	if err != nil {
		t.Skip("not a public area")
	}
	return p.AuthPolicy.Buffer
}

// FuzzTPMKeyBlob feeds arbitrary blobs to the decoder that runs before the
// TPM sees anything: it must return an error or a P-256 key, never panic,
// and what it accepts must re-encode to the same bytes.
func FuzzTPMKeyBlob(f *testing.F) {
	golden, _ := os.ReadFile("testdata/tpm-key-v1.blob")
	f.Add(golden)
	f.Add([]byte{tpmBlobV1, 0, 0, 0, 0})
	// An RSA-tagged unique field in an ECC public area once made go-tpm's
	// Marshal panic.
	f.Add([]byte("\x01\x00x\x00%000000\x00 00000000000000000000000000000000\x00\x10\x00" +
		"000000000000000000000000000000000000000000000000000000000000000000000000000\x00" +
		"0000000000000000000000000000000000000000000000000"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		pub, priv, ok := splitTPMBlob(blob)
		if !ok {
			return
		}
		p, err := tpm2.Unmarshal[tpm2.TPMTPublic](pub)
		policy := []byte(nil)
		if err == nil {
			policy = p.AuthPolicy.Buffer
		}
		k, err := newCredentialKey(policy, pub, priv)
		if err != nil {
			return
		}
		if !bytes.Equal(k.encode(), blob) {
			t.Fatalf("accepted %x but re-encodes it as %x", blob, k.encode())
		}
	})
}
