package ctapclient

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
)

// Token is a pinUvAuthToken and the protocol it was obtained with.
type Token struct {
	Protocol pinuv.Protocol
	Token    []byte
}

// Auth is the pinUvAuthParam of msg under the token.
func (t *Token) Auth(msg []byte) []byte { return t.Protocol.Authenticate(t.Token, msg) }

// agreement runs getKeyAgreement and returns our COSE key and the shared secret.
func (c *Client) agreement(ctx context.Context, pr pinuv.Protocol) (*ctap.COSEKey, []byte, error) {
	var r ctap.ClientPINResponse
	err := c.Call(ctx, ctap.CmdClientPIN, &ctap.ClientPINRequest{PinUvAuthProtocol: pr.Version(), SubCommand: ctap.PINGetKeyAgreement}, &r)
	if err != nil {
		return nil, nil, err
	}
	if r.KeyAgreement == nil {
		return nil, nil, fmt.Errorf("ctapclient: no keyAgreement in the reply")
	}
	peer, err := r.KeyAgreement.ECDH()
	if err != nil {
		return nil, nil, err
	}
	mine, shared, err := pinuv.Encapsulate(pr, peer)
	if err != nil {
		return nil, nil, err
	}
	k, err := ctap.NewCOSEKey(ctap.COSEAlgECDHESHKDF, mine.Bytes())
	return k, shared, err
}

// PINRetries is getPINRetries.
func (c *Client) PINRetries(ctx context.Context) (int, error) {
	var r ctap.ClientPINResponse
	err := c.Call(ctx, ctap.CmdClientPIN, &ctap.ClientPINRequest{SubCommand: ctap.PINGetRetries}, &r)
	if err != nil || r.PINRetries == nil {
		return 0, err
	}
	return int(*r.PINRetries), nil
}

func padPIN(pin string) []byte {
	b := make([]byte, 64)
	copy(b, pin)
	return b
}

func pinHash(pin string) []byte {
	h := sha256.Sum256([]byte(pin))
	return h[:16]
}

// SetPIN is setPIN.
func (c *Client) SetPIN(ctx context.Context, pr pinuv.Protocol, pin string) error {
	k, shared, err := c.agreement(ctx, pr)
	if err != nil {
		return err
	}
	enc, err := pr.Encrypt(shared, padPIN(pin))
	if err != nil {
		return err
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: pr.Version(), SubCommand: ctap.PINSetPIN, KeyAgreement: k,
		NewPINEnc: enc, PinUvAuthParam: pr.Authenticate(shared, enc)}
	return c.Call(ctx, ctap.CmdClientPIN, req, nil)
}

// ChangePIN is changePIN.
func (c *Client) ChangePIN(ctx context.Context, pr pinuv.Protocol, oldPIN, newPIN string) error {
	k, shared, err := c.agreement(ctx, pr)
	if err != nil {
		return err
	}
	newEnc, err := pr.Encrypt(shared, padPIN(newPIN))
	if err != nil {
		return err
	}
	hashEnc, err := pr.Encrypt(shared, pinHash(oldPIN))
	if err != nil {
		return err
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: pr.Version(), SubCommand: ctap.PINChangePIN, KeyAgreement: k,
		NewPINEnc: newEnc, PINHashEnc: hashEnc,
		PinUvAuthParam: pr.Authenticate(shared, append(append([]byte{}, newEnc...), hashEnc...))}
	return c.Call(ctx, ctap.CmdClientPIN, req, nil)
}

// PINToken is getPinUvAuthTokenUsingPinWithPermissions (or the legacy
// getPinToken when perms is 0).
func (c *Client) PINToken(ctx context.Context, pr pinuv.Protocol, pin string, perms uint, rpID string) (*Token, error) {
	k, shared, err := c.agreement(ctx, pr)
	if err != nil {
		return nil, err
	}
	hashEnc, err := pr.Encrypt(shared, pinHash(pin))
	if err != nil {
		return nil, err
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: pr.Version(), SubCommand: ctap.PINGetTokenUsingPINWithPerm,
		KeyAgreement: k, PINHashEnc: hashEnc, Permissions: perms, RPID: rpID}
	if perms == 0 {
		req.SubCommand = ctap.PINGetPINToken
	}
	return c.token(ctx, pr, shared, req)
}

// UVToken is getPinUvAuthTokenUsingUvWithPermissions: the authenticator asks
// the user with its built-in verification.
func (c *Client) UVToken(ctx context.Context, pr pinuv.Protocol, perms uint, rpID string) (*Token, error) {
	k, shared, err := c.agreement(ctx, pr)
	if err != nil {
		return nil, err
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: pr.Version(), SubCommand: ctap.PINGetTokenUsingUV,
		KeyAgreement: k, Permissions: perms, RPID: rpID}
	return c.token(ctx, pr, shared, req)
}

func (c *Client) token(ctx context.Context, pr pinuv.Protocol, shared []byte, req *ctap.ClientPINRequest) (*Token, error) {
	var r ctap.ClientPINResponse
	if err := c.Call(ctx, ctap.CmdClientPIN, req, &r); err != nil {
		return nil, err
	}
	tok, err := pr.Decrypt(shared, r.PinUvAuthToken)
	if err != nil {
		return nil, fmt.Errorf("ctapclient: cannot decrypt the token: %w", err)
	}
	return &Token{Protocol: pr, Token: tok}, nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
