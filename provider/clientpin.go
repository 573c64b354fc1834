package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
	"github.com/passkeyd/passkeyd/userverify"
)

// maxPINRetries is CTAP 2.1's PIN retry limit.
const maxPINRetries = 8

// ClientPIN is authenticatorClientPIN (CTAP 2.1 §6.5).
func (p *Provider) ClientPIN(ctx context.Context, req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, error) {
	switch req.SubCommand {
	case ctap.PINGetRetries:
		n := uint(p.pin.Retries())
		return &ctap.ClientPINResponse{PINRetries: &n}, nil
	case ctap.PINGetUVRetries:
		n := uint(maxPINRetries) // built-in UV keeps no count of its own; the PIN fallback does
		return &ctap.ClientPINResponse{UVRetries: &n}, nil
	case ctap.PINGetKeyAgreement:
		return p.getKeyAgreement(req)
	case ctap.PINSetPIN:
		return nil, p.setPIN(req)
	case ctap.PINChangePIN:
		return nil, p.changePIN(ctx, req)
	case ctap.PINGetPINToken:
		req.Permissions, req.RPID = ctap.PermMakeCredential|ctap.PermGetAssertion, ""
		return p.tokenWithPIN(ctx, req)
	case ctap.PINGetTokenUsingPINWithPerm:
		if err := checkPermissions(req); err != nil {
			return nil, err
		}
		return p.tokenWithPIN(ctx, req)
	case ctap.PINGetTokenUsingUV:
		if err := checkPermissions(req); err != nil {
			return nil, err
		}
		return p.tokenWithUV(ctx, req)
	}
	return nil, ctap.Errorf(ctap.ErrInvalidSubcommand, "ClientPIN subcommand 0x%02x is not known", req.SubCommand)
}

func (p *Provider) getKeyAgreement(req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, error) {
	if _, err := protocol(req.PinUvAuthProtocol); err != nil {
		return nil, err
	}
	k, err := ctap.NewCOSEKey(ctap.COSEAlgECDHESHKDF, p.keyAgreement(req.PinUvAuthProtocol).PublicKey().Bytes())
	if err != nil {
		return nil, p.internal("cannot encode the key agreement key", err)
	}
	return &ctap.ClientPINResponse{KeyAgreement: k}, nil
}

// shared derives the shared secret of a ClientPIN request.
func (p *Provider) shared(req *ctap.ClientPINRequest) (pinuv.Protocol, []byte, error) {
	pr, err := protocol(req.PinUvAuthProtocol)
	if err != nil {
		return nil, nil, err
	}
	if req.KeyAgreement == nil {
		return nil, nil, ctap.Errorf(ctap.ErrMissingParameter, "keyAgreement is missing")
	}
	peer, err := req.KeyAgreement.ECDH()
	if err != nil {
		return nil, nil, err
	}
	s, err := pinuv.Shared(pr, p.keyAgreement(req.PinUvAuthProtocol), peer)
	if err != nil {
		return nil, nil, ctap.Errorf(ctap.ErrInvalidParameter, "%v", err)
	}
	return pr, s, nil
}

// setPIN is CTAP 2.1 §6.5.5.5.
func (p *Provider) setPIN(req *ctap.ClientPINRequest) error {
	pr, shared, err := p.shared(req)
	if err != nil {
		return err
	}
	if req.PinUvAuthParam == nil || req.NewPINEnc == nil {
		return ctap.Errorf(ctap.ErrMissingParameter, "setPIN needs pinUvAuthParam and newPinEnc")
	}
	if p.pin.IsSet() {
		return ctap.Errorf(ctap.ErrNotAllowed, "a PIN is already set; use changePIN")
	}
	if !pr.Verify(shared, req.NewPINEnc, req.PinUvAuthParam) {
		return ctap.Errorf(ctap.ErrPINAuthInvalid, "pinUvAuthParam does not verify")
	}
	pin, err := p.newPIN(pr, shared, req.NewPINEnc)
	if err != nil {
		return err
	}
	return p.storePIN(pin)
}

// changePIN is CTAP 2.1 §6.5.5.6.
func (p *Provider) changePIN(ctx context.Context, req *ctap.ClientPINRequest) error {
	pr, shared, err := p.shared(req)
	if err != nil {
		return err
	}
	if req.PinUvAuthParam == nil || req.NewPINEnc == nil || req.PINHashEnc == nil {
		return ctap.Errorf(ctap.ErrMissingParameter, "changePIN needs pinUvAuthParam, newPinEnc and pinHashEnc")
	}
	if !p.pin.IsSet() {
		return ctap.Errorf(ctap.ErrPINNotSet, "no PIN is set; use setPIN")
	}
	msg := append(append([]byte{}, req.NewPINEnc...), req.PINHashEnc...)
	if !pr.Verify(shared, msg, req.PinUvAuthParam) {
		return ctap.Errorf(ctap.ErrPINAuthInvalid, "pinUvAuthParam does not verify")
	}
	if err := p.checkPIN(pr, shared, req.PINHashEnc); err != nil {
		return err
	}
	pin, err := p.newPIN(pr, shared, req.NewPINEnc)
	if err != nil {
		return err
	}
	p.sessions.resetAll() // every token issued under the old PIN stops working
	return p.storePIN(pin)
}

// newPIN decrypts and checks a new PIN against the policy (§6.5.5.5 steps 6–9).
func (p *Provider) newPIN(pr pinuv.Protocol, shared, enc []byte) ([]byte, error) {
	padded, err := pr.Decrypt(shared, enc)
	if err != nil || len(padded) != 64 {
		return nil, ctap.Errorf(ctap.ErrInvalidParameter, "newPinEnc must decrypt to 64 bytes")
	}
	pin := bytes.TrimRight(padded, "\x00")
	if !utf8.Valid(pin) || uint(utf8.RuneCount(pin)) < p.Settings().MinPIN() || len(pin) > 63 {
		return nil, ctap.Errorf(ctap.ErrPINPolicyViolation, "the PIN must be %d to 63 bytes of UTF-8", p.Settings().MinPIN())
	}
	return pin, nil
}

func (p *Provider) storePIN(pin []byte) error {
	h := sha256.Sum256(pin)
	if err := p.pin.Set(h[:16]); err != nil {
		return p.internal("cannot store the PIN", err)
	}
	n := uint(utf8.RuneCount(pin))
	return p.UpdateSettings(func(s *Settings) { s.ForcePINChange, s.PINLength = false, n })
}

// checkPIN verifies pinHashEnc against the vault (§6.5.5.7.1 steps 5–8). A
// wrong PIN regenerates the key agreement key, as the specification says.
func (p *Provider) checkPIN(pr pinuv.Protocol, shared, pinHashEnc []byte) error {
	hash, err := pr.Decrypt(shared, pinHashEnc)
	if err != nil || len(hash) != 16 {
		return ctap.Errorf(ctap.ErrInvalidParameter, "pinHashEnc must decrypt to 16 bytes")
	}
	err = p.pin.Check(hash)
	if err == nil {
		return nil
	}
	if errors.Is(err, userverify.ErrPINInvalid) {
		if kerr := p.newKeyAgreement(); kerr != nil {
			return kerr
		}
	}
	return pinStatus(err)
}

// pinStatus maps the vault's answers to CTAP statuses.
func pinStatus(err error) error {
	var s ctap.Status
	switch {
	case errors.Is(err, userverify.ErrPINInvalid):
		s = ctap.ErrPINInvalid
	case errors.Is(err, userverify.ErrPINAuthBlocked), errors.Is(err, userverify.ErrLockedOut):
		s = ctap.ErrPINAuthBlocked
	case errors.Is(err, userverify.ErrPINBlocked):
		s = ctap.ErrPINBlocked
	case errors.Is(err, userverify.ErrPINNotSet):
		s = ctap.ErrPINNotSet
	default:
		s = ctap.ErrOther
	}
	return ctap.Errorf(s, "%v", err)
}

func checkPermissions(req *ctap.ClientPINRequest) error {
	const known = ctap.PermMakeCredential | ctap.PermGetAssertion | ctap.PermCredMgmt |
		ctap.PermLargeBlobWrite | ctap.PermConfig
	switch {
	case req.Permissions == 0:
		return ctap.Errorf(ctap.ErrMissingParameter, "permissions are missing")
	case req.Permissions&ctap.PermBioEnroll != 0:
		return ctap.Errorf(ctap.ErrUnauthorizedPermission, "bio enrollment is not supported")
	case req.Permissions&^known != 0:
		return ctap.Errorf(ctap.ErrUnauthorizedPermission, "permissions 0x%02x are not supported", req.Permissions&^known)
	}
	return nil
}

// tokenWithPIN is getPinToken and getPinUvAuthTokenUsingPinWithPermissions
// (§6.5.5.7.1, §6.5.5.7.2).
func (p *Provider) tokenWithPIN(ctx context.Context, req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, error) {
	pr, shared, err := p.shared(req)
	if err != nil {
		return nil, err
	}
	if req.PINHashEnc == nil {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "pinHashEnc is missing")
	}
	if !p.pin.IsSet() {
		return nil, ctap.Errorf(ctap.ErrPINNotSet, "no PIN is set")
	}
	if err := p.checkPIN(pr, shared, req.PINHashEnc); err != nil {
		return nil, err
	}
	if p.Settings().ForcePINChange {
		return nil, ctap.Errorf(ctap.ErrPINPolicyViolation, "the PIN must be changed first")
	}
	return p.sendToken(ctx, pr, shared, req, false)
}

// tokenWithUV is getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3): the
// Verifier is the built-in user verification.
func (p *Provider) tokenWithUV(ctx context.Context, req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, error) {
	pr, shared, err := p.shared(req)
	if err != nil {
		return nil, err
	}
	q := userverify.Request{Operation: tokenOperation(req.Permissions), RPID: req.RPID, Reason: tokenReason(req)}
	if err := p.ask(ctx, q); err != nil {
		return nil, err
	}
	return p.sendToken(ctx, pr, shared, req, true)
}

func (p *Provider) sendToken(ctx context.Context, pr pinuv.Protocol, shared []byte, req *ctap.ClientPINRequest, up bool) (*ctap.ClientPINResponse, error) {
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	tok := p.issueToken(ss, req.Permissions, req.RPID, up)
	ss.mu.Unlock()
	enc, err := pr.Encrypt(shared, tok)
	if err != nil {
		return nil, p.internal("cannot encrypt the token", err)
	}
	return &ctap.ClientPINResponse{PinUvAuthToken: enc}, nil
}

// tokenOperation names what the user approves by granting a token: the one
// kind of operation its permissions allow, or uv-token for a mix.
func tokenOperation(perms uint) userverify.Operation {
	switch perms {
	case ctap.PermCredMgmt:
		return userverify.OpCredentialManagement
	case ctap.PermLargeBlobWrite:
		return userverify.OpLargeBlobWrite
	case ctap.PermConfig:
		return userverify.OpConfig
	case ctap.PermMakeCredential:
		return userverify.OpMakeCredential
	case ctap.PermGetAssertion:
		return userverify.OpGetAssertion
	}
	return userverify.OpUVToken
}

// tokenReason says in words what a token will allow.
func tokenReason(req *ctap.ClientPINRequest) string {
	var what string
	switch {
	case req.Permissions&ctap.PermCredMgmt != 0:
		what = "Manage your passkeys"
	case req.Permissions&ctap.PermMakeCredential != 0:
		what = "Create a passkey"
	case req.Permissions&ctap.PermGetAssertion != 0:
		what = "Sign in"
	case req.Permissions&ctap.PermConfig != 0:
		what = "Change the authenticator's settings"
	default:
		what = "Use your passkeys"
	}
	if req.RPID != "" {
		return fmt.Sprintf("%s for %s", what, req.RPID)
	}
	return what
}
