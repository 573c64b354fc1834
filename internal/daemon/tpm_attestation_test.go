package daemon_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"github.com/passkeyd/passkeyd/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/keystore"
)

// TestTPMAttestation runs --keystore tpm --attestation tpm on swtpm end to
// end: the CA made as `passkeyd attestation init --keystore tpm` makes it
// (its keys sealed by the TPM), a registration with attestation "direct"
// through the daemon, and go-webauthn verifying the statement against the
// exported root, then refusing it against another root.
func TestTPMAttestation(t *testing.T) {
	w := testenv.StartSWTPM(t)
	cfg := backendConfig(t, "tpm")
	cfg.TPM, cfg.Attestation = w.Spec(), attestation.FormatTPM
	root := initTPMCA(t, cfg)
	d, _ := runDaemon(t, cfg)

	t.Run("go-webauthn accepts", func(t *testing.T) {
		rp := attestingRP(t, root)
		alice := testrp.NewUser("alice")
		cred, err := rp.Register(alice, creatorFor(d))
		if err != nil {
			t.Fatalf("go-webauthn rejected the registration: %v", err)
		}
		if cred.AttestationFormat != attestation.FormatTPM || cred.AttestationType != "attca" {
			t.Errorf("attestation %q of type %q, want tpm attca", cred.AttestationFormat, cred.AttestationType)
		}
		if _, err := rp.Login(alice, getterFor(d)); err != nil {
			t.Fatalf("sign-in: %v", err)
		}
	})
	t.Run("go-webauthn rejects another root", func(t *testing.T) {
		other, err := attestation.InitCA(t.TempDir(), attestation.DefaultAAGUID, attestation.CAOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = attestingRP(t, other.Root()).Register(testrp.NewUser("mallory"), creatorFor(d))
		if err == nil {
			t.Fatal("go-webauthn accepted the TPM statement against another root")
		}
		t.Log(err)
	})
}

// initTPMCA creates the local CA in the state directory with the TPM
// sealer as key protector, as `passkeyd attestation init --keystore tpm`
// does, and returns the root as `passkeyd attestation export` prints it.
func initTPMCA(t *testing.T, cfg daemon.Config) *x509.Certificate {
	t.Helper()
	s, err := keystore.OpenTPM(cfg.TPM, cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := attestation.InitCA(daemon.CADir(cfg.StateDir), attestation.DefaultAAGUID, attestation.CAOptions{Protector: s})
	// swtpm has no resource manager: the daemon's sealer flushes what another
	// connection left loaded, so this one must be closed first.
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(ca.RootPEM())
	if block == nil || len(rest) != 0 {
		t.Fatalf("the exported root is not one PEM block: %q", ca.RootPEM())
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	checkCAKeysSealed(t, daemon.CADir(cfg.StateDir))
	checkStateModes(t, cfg.StateDir)
	return root
}

// checkCAKeysSealed checks that no CA private key was written as plain
// PKCS#8.
func checkCAKeysSealed(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CA files in %s (%v)", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for rest := b; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
				t.Errorf("%s holds a plaintext private key (%s)", f, block.Type)
			}
		}
		if strings.Contains(string(b), "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("%s holds a plaintext private key", f)
		}
	}
}

// attestingRP is a relying party that asks for direct attestation and
// trusts root for passkeyd's AAGUID, as a test server given the output of
// `passkeyd attestation export` would.
func attestingRP(t *testing.T, root *x509.Certificate) *testrp.RP {
	t.Helper()
	id := uuid.UUID(attestation.DefaultAAGUID)
	mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{id: {
		AaGUID: id,
		MetadataStatement: metadata.Statement{
			AaGUID:                      id,
			Description:                 "passkeyd under test",
			AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.AttCA},
			AttestationRootCertificates: []*x509.Certificate{root},
		},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := webauthn.New(&webauthn.Config{RPID: backendRP, RPDisplayName: "Test RP", RPOrigins: []string{backendOrigin},
		AttestationPreference: protocol.PreferDirectAttestation, MDS: mds})
	if err != nil {
		t.Fatal(err)
	}
	return &testrp.RP{W: w, ID: backendRP, Origin: backendOrigin}
}

// TestTPMAttestationNeedsTPMKeystore asks for tpm attestation with the file
// keystore: the daemon refuses to start and says what to change.
func TestTPMAttestationNeedsTPMKeystore(t *testing.T) {
	cfg := backendConfig(t, "file")
	cfg.Attestation = attestation.FormatTPM
	if _, err := attestation.InitCA(daemon.CADir(cfg.StateDir), attestation.DefaultAAGUID, attestation.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	err := startFails(t, cfg)
	if !errors.Is(err, attestation.ErrNoTPM) || !strings.Contains(err.Error(), "--keystore tpm") {
		t.Errorf("got %v, want ErrNoTPM saying --keystore tpm", err)
	}
}
