package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

const hidRP = "example.com"

// serveConfig is what passkeyd serve would get with the file keystore and
// temporary directories. The runtime directory is short: a Unix socket path
// must fit in 108 bytes.
func serveConfig(t testing.TB, uv string) daemon.Config {
	t.Helper()
	run, err := os.MkdirTemp("", "pkd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	return daemon.Config{StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: run,
		Keystore: "file", UV: uv, UVTimeout: time.Minute, Version: "test"}
}

// startDaemon runs a daemon until the test ends.
func startDaemon(t testing.TB, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	d, err := daemon.Start(cfg)
	if err != nil {
		t.Fatalf("daemon.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return d
}

// dialHID connects one host handle to the daemon's ctaphid.sock.
func dialHID(t testing.TB, cfg daemon.Config) (*ctapclient.Client, *hidclient.Client) {
	t.Helper()
	hc, err := hidclient.Dial(filepath.Join(cfg.RuntimeDir, daemon.CTAPHIDSocket))
	if err != nil {
		t.Fatalf("dial ctaphid.sock: %v", err)
	}
	t.Cleanup(func() { hc.Close() })
	return ctapclient.New(hc), hc
}

func randomN(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func makeCredReq(rpID, user string, discoverable bool) *ctap.MakeCredentialRequest {
	return &ctap.MakeCredentialRequest{
		ClientDataHash:   randomN(32),
		RP:               &ctap.RPEntity{ID: rpID, Name: rpID},
		User:             &ctap.UserEntity{ID: randomN(16), Name: user, DisplayName: user},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: -7}},
		Options:          map[string]bool{"rk": discoverable, "uv": true},
	}
}

func getAssertReq(rpID string, credIDs ...[]byte) *ctap.GetAssertionRequest {
	req := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: randomN(32), Options: map[string]bool{"uv": true}}
	for _, id := range credIDs {
		req.AllowList = append(req.AllowList, ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: id})
	}
	return req
}

// testCred is what a registration gave the relying party.
type testCred struct {
	id  []byte
	rp  string
	pub *ecdsa.PublicKey
}

// testReg is a checked MakeCredential response.
type testReg struct {
	testCred
	counter uint32
}

// mustRegister checks a MakeCredential response and returns the credential.
func mustRegister(t testing.TB, rpID string, resp *ctap.MakeCredentialResponse) testCred {
	t.Helper()
	reg, err := checkRegistration(rpID, resp.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	return reg.testCred
}

// checkRegistration checks a registration's authData and takes the
// credential ID, public key and counter from it.
func checkRegistration(rpID string, authData []byte) (testReg, error) {
	ad, err := ctap.ParseAuthData(authData)
	if err != nil {
		return testReg{}, fmt.Errorf("MakeCredential authData: %w", err)
	}
	if ad.RPIDHash != sha256.Sum256([]byte(rpID)) || ad.Attested == nil || !ad.Flags.Has(ctap.FlagUP|ctap.FlagUV) {
		return testReg{}, fmt.Errorf("MakeCredential authData: rpIdHash, attested data or flags (%v) wrong", ad.Flags)
	}
	var key ctap.COSEKey
	if err := ctap.Unmarshal(ad.Attested.PublicKey, &key); err != nil {
		return testReg{}, fmt.Errorf("credential public key: %w", err)
	}
	pub, err := key.ECDSA()
	if err != nil {
		return testReg{}, fmt.Errorf("credential public key: %w", err)
	}
	return testReg{testCred{id: ad.Attested.CredentialID, rp: rpID, pub: pub}, ad.Counter}, nil
}

// checkAssertion checks an assertion's authData and signature and returns its
// signature counter.
func checkAssertion(c testCred, req *ctap.GetAssertionRequest, resp *ctap.GetAssertionResponse) (uint32, error) {
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		return 0, err
	}
	if ad.RPIDHash != sha256.Sum256([]byte(c.rp)) || !ad.Flags.Has(ctap.FlagUP|ctap.FlagUV) {
		return 0, fmt.Errorf("assertion authData: wrong rpIdHash or flags %v", ad.Flags)
	}
	if resp.Credential != nil && string(resp.Credential.ID) != string(c.id) {
		return 0, fmt.Errorf("assertion by credential %x, want %x", resp.Credential.ID, c.id)
	}
	h := sha256.Sum256(append(append([]byte{}, resp.AuthData...), req.ClientDataHash...))
	if !ecdsa.VerifyASN1(c.pub, h[:], resp.Signature) {
		return 0, fmt.Errorf("assertion signature does not verify")
	}
	return ad.Counter, nil
}
