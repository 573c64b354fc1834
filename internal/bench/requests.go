package bench

import (
	"bytes"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"

	"github.com/passkeyd/passkeyd/ctap"
)

// benchRPs is how many relying parties the load's registrations spread over.
const benchRPs = 16

// benchRP names the i-th relying party of the load.
func benchRP(i int) string { return fmt.Sprintf("rp%d.bench.example", i%benchRPs) }

// Credential is one credential the load asserts with, and its
// GetAssertion message encoded once.
type Credential struct {
	ID   []byte
	RPID string

	msg     []byte // command byte and CBOR; the client data hash at hashOff
	hashOff int
}

// newCredential encodes the GetAssertion message of credential id: an
// allowList of one and uv, as a browser signing in with a known credential
// sends it.
func newCredential(id []byte, rpID string) (*Credential, error) {
	marker := make([]byte, 32)
	_, _ = rand.Read(marker)
	req := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: marker,
		AllowList: []ctap.CredentialDescriptor{{Type: ctap.PublicKeyType, ID: id}},
		Options:   map[string]bool{"uv": true}}
	b, err := ctap.Marshal(req)
	if err != nil {
		return nil, err
	}
	msg := append([]byte{byte(ctap.CmdGetAssertion)}, b...)
	off := bytes.Index(msg, marker)
	if off < 0 {
		return nil, fmt.Errorf("bench: the client data hash is not in the encoded request")
	}
	return &Credential{ID: id, RPID: rpID, msg: msg, hashOff: off}, nil
}

// assertion writes the credential's GetAssertion message with a fresh
// client data hash into buf and returns it.
func (c *Credential) assertion(buf []byte, rnd *mrand.ChaCha8) []byte {
	buf = append(buf[:0], c.msg...)
	_, _ = rnd.Read(buf[c.hashOff : c.hashOff+32])
	return buf
}

// registration returns a MakeCredential message for a new discoverable
// credential of a random user on one of the load's relying parties.
func registration(rnd *mrand.ChaCha8, rp int) ([]byte, error) {
	hash, user := make([]byte, 32), make([]byte, 16)
	_, _ = rnd.Read(hash)
	_, _ = rnd.Read(user)
	return makeCredentialMsg(benchRP(rp), hash, user)
}

// makeCredentialMsg is the MakeCredential message of a discoverable ES256
// credential with uv, as a browser registering a passkey sends it.
func makeCredentialMsg(rp string, hash, user []byte) ([]byte, error) {
	name := fmt.Sprintf("user-%x@%s", user[:4], rp)
	req := &ctap.MakeCredentialRequest{
		ClientDataHash:   hash,
		RP:               &ctap.RPEntity{ID: rp, Name: rp},
		User:             &ctap.UserEntity{ID: user, Name: name, DisplayName: name},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: -7}},
		Options:          map[string]bool{"rk": true, "uv": true},
	}
	b, err := ctap.Marshal(req)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(ctap.CmdMakeCredential)}, b...), nil
}
