package provider

import (
	"context"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/userverify"
)

// gate is how one MakeCredential or GetAssertion is authorized: with a
// pinUvAuthToken, with built-in user verification (the Verifier), or with
// user presence only. It asks the user at most once.
type gate struct {
	proto    uint
	param    []byte // pinUvAuthParam; nil when absent
	msg      []byte // what param authenticates (the clientDataHash)
	perm     uint   // token permission needed
	rpID     string
	wantUV   bool // uv option, alwaysUv, or a discoverable registration
	wantUP   bool // up option (default true)
	question userverify.Request
	fault    *Fault // an injected fault that changes the output, or nil

	uv, up bool // outcome: what was established
}

// authorize checks the pinUvAuthToken, when the request carries one: it
// establishes UV, and presence if the token still holds it.
func (p *Provider) authorize(ss *session, g *gate) error {
	if g.param == nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	t, err := p.useToken(ss, g.proto, g.param, g.msg, g.perm, g.rpID)
	if err != nil {
		return err
	}
	g.uv = true
	g.up = t.consumeUP()
	return nil
}

// verifyUser asks the Verifier when UV is wanted and no token gave it. The
// answer establishes presence too.
func (p *Provider) verifyUser(ctx context.Context, g *gate) error {
	if !g.wantUV || g.uv {
		return nil
	}
	if err := p.ask(ctx, g.question); err != nil {
		return err
	}
	g.uv, g.up = true, true
	return nil
}

// willVerify reports whether the operation ends with UV established.
func (g *gate) willVerify() bool { return g.uv || g.wantUV }

// presence asks the user when presence is wanted and was not established.
func (p *Provider) presence(ctx context.Context, g *gate) error {
	if !g.wantUP || g.up {
		return nil
	}
	if err := p.ask(ctx, g.question); err != nil {
		return err
	}
	g.up = true
	return nil
}

// flags are the UP and UV bits the gate established.
func (g *gate) flags() ctap.Flags {
	var f ctap.Flags
	if g.up {
		f |= ctap.FlagUP
	}
	if g.uv {
		f |= ctap.FlagUV
	}
	return f
}

// probe answers the zero-length pinUvAuthParam that browsers send to make the
// user pick an authenticator (CTAP 2.1 §6.1.2 step 1, §6.2.2 step 1).
func (p *Provider) probe(ctx context.Context) error {
	err := p.ask(ctx, userverify.Request{Operation: userverify.OpSelection,
		Reason: "Choose passkeyd as your passkey provider"})
	if err != nil {
		return err
	}
	if p.pin.IsSet() {
		return ctap.Errorf(ctap.ErrPINInvalid, "selection probe answered: a PIN is set")
	}
	return ctap.Errorf(ctap.ErrPINNotSet, "selection probe answered: no PIN is set")
}

// pinUvParamPresent reports whether a pinUvAuthParam was sent, and validates
// the protocol that must come with it.
func pinUvParamPresent(param []byte, proto uint) (bool, error) {
	if param == nil {
		return false, nil
	}
	_, err := protocol(proto)
	return true, err
}
