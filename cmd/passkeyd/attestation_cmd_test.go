package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/daemon"
)

// exportedRoot runs attestation export and parses the PEM it prints.
func exportedRoot(t *testing.T, state string) *x509.Certificate {
	t.Helper()
	out := mustRun(t, nil, "attestation", "export", "--state-dir", state)
	block, rest := pem.Decode([]byte(out))
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("export did not print one PEM certificate:\n%s", out)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA {
		t.Error("the exported root is not a CA")
	}
	return root
}

// packedStatement is the attStmt of packed attestation (WebAuthn §8.2).
type packedStatement struct {
	Alg int      `cbor:"alg"`
	Sig []byte   `cbor:"sig"`
	X5C [][]byte `cbor:"x5c"`
}

// registerAttested makes a credential and returns its packed statement,
// after checking the signature with the leaf certificate.
func registerAttested(t *testing.T, td *testDaemon) (*x509.Certificate, packedStatement) {
	t.Helper()
	cdh := hash("attested registration")
	req := &ctap.MakeCredentialRequest{ClientDataHash: cdh, RP: &ctap.RPEntity{ID: "example.com"},
		User:             &ctap.UserEntity{ID: []byte("u1"), Name: "alice"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: ctap.COSEAlgES256}}}
	resp, err := td.ctapClient(t).MakeCredential(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st packedStatement
	if err := ctap.Unmarshal(resp.AttStmt, &st); err != nil {
		t.Fatal(err)
	}
	if resp.Fmt != "packed" || len(st.X5C) == 0 {
		t.Fatalf("fmt %q with %d certificates, want packed with x5c", resp.Fmt, len(st.X5C))
	}
	leaf, err := x509.ParseCertificate(st.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(append(append([]byte{}, resp.AuthData...), cdh...))
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !ecdsa.VerifyASN1(pub, digest[:], st.Sig) {
		t.Error("the attestation signature does not verify with the x5c leaf")
	}
	return leaf, st
}

func verifyChain(leaf, root *x509.Certificate, intermediates [][]byte) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, der := range intermediates {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func TestAttestationInitExport(t *testing.T) {
	state := filepath.Join(shortTempDir(t), "state")
	r := runCLI(t, nil, "", "attestation", "export", "--state-dir", state)
	oneLine(t, r, exitFailed, "no attestation CA in "+daemon.CADir(state)+"; create one with: passkeyd attestation init")

	out := mustRun(t, nil, "attestation", "init", "--state-dir", state, "--keystore", "file", "--organization", "Example QA")
	root := exportedRoot(t, state)
	if !strings.Contains(out, fingerprint(root)) || !strings.Contains(out, "Restart 'passkeyd serve'") {
		t.Errorf("init said:\n%s", out)
	}
	if got := root.Subject.Organization; len(got) != 1 || got[0] != "Example QA" {
		t.Errorf("root organization %q", got)
	}
	key, err := os.ReadFile(filepath.Join(daemon.CADir(state), "attestation.key"))
	if err != nil || !strings.Contains(string(key), "PASSKEYD SEALED PRIVATE KEY") {
		t.Errorf("the attestation key is not sealed (%v)", err)
	}

	td := startDaemon(t, func(c *daemon.Config) { c.Ephemeral, c.StateDir, c.Keystore = false, state, "file" })
	leaf, st := registerAttested(t, td)
	if err := verifyChain(leaf, root, st.X5C[1:]); err != nil {
		t.Errorf("the x5c does not chain to the exported root: %v", err)
	}
}

func TestAttestationInitRefusesToOverwrite(t *testing.T) {
	state := filepath.Join(shortTempDir(t), "state")
	mustRun(t, nil, "attestation", "init", "--state-dir", state)
	first := exportedRoot(t, state)
	r := runCLI(t, nil, "", "attestation", "init", "--state-dir", state)
	oneLine(t, r, exitFailed, "an attestation CA already exists in "+daemon.CADir(state)+"; pass --force to replace it")
	mustRun(t, nil, "attestation", "init", "--state-dir", state, "--force")
	if exportedRoot(t, state).Equal(first) {
		t.Error("--force kept the old root")
	}
	r = runCLI(t, nil, "", "attestation", "init", "--state-dir", state, "--keystore", "memory", "--force")
	oneLine(t, r, exitUsage, "--keystore memory keeps nothing")
	r = runCLI(t, nil, "", "attestation", "init", "--state-dir", state, "--aaguid", "nope", "--force")
	oneLine(t, r, exitUsage, `--aaguid "nope" is not a UUID`)
}
