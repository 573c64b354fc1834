package provider

import (
	"time"

	"github.com/passkeyd/passkeyd/ctap"
)

// pinToken is the pinUvAuthToken state of CTAP 2.1 §6.5.2.1.
type pinToken struct {
	token  []byte
	perms  uint
	rpID   string // permissions RP ID; "" until bound
	up     bool   // userPresent flag: set when obtained through built-in UV
	issued time.Time
}

// tokenLifetime is the maximum usage period of a token (CTAP 2.1 §6.5.2.1
// suggests 10 minutes, after which the platform must get a new one).
const tokenLifetime = 10 * time.Minute

// issueToken makes a fresh token for the session; older tokens stop working
// (resetPinUvAuthToken).
func (p *Provider) issueToken(ss *session, perms uint, rpID string, up bool) []byte {
	ss.token = &pinToken{token: p.random(32), perms: perms, rpID: rpID, up: up, issued: p.cfg.Now()}
	return ss.token.token
}

// useToken checks pinUvAuthParam over msg against the session's token and
// that the token carries perm for rpID ("" when the command has no RP). On
// success an unbound token becomes bound to rpID.
func (p *Provider) useToken(ss *session, proto uint, param, msg []byte, perm uint, rpID string) (*pinToken, error) {
	pr, err := protocol(proto)
	if err != nil {
		return nil, err
	}
	t := ss.token
	if t == nil || p.cfg.Now().Sub(t.issued) > tokenLifetime {
		ss.token = nil
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "no valid pinUvAuthToken: get a new one")
	}
	if !pr.Verify(t.token, msg, param) {
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "pinUvAuthParam does not verify")
	}
	if t.perms&perm == 0 {
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "pinUvAuthToken lacks permission 0x%02x", perm)
	}
	if rpID != "" {
		if t.rpID != "" && t.rpID != rpID {
			return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "pinUvAuthToken is bound to another RP")
		}
		t.rpID = rpID
	}
	return t, nil
}

// consumeUP returns and clears the token's userPresent flag
// (getUserPresentFlagValue, clearUserPresentFlag).
func (t *pinToken) consumeUP() bool {
	up := t.up
	t.up = false
	return up
}
