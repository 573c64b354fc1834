package provider

import (
	"context"

	"github.com/passkeyd/passkeyd/userverify"
)

// Reset is authenticatorReset (CTAP 2.1 §6.6): after the user agrees, every
// credential, the PIN, the large blobs and the options are gone. The
// provider switch is kept: it belongs to the platform, not the
// authenticator. The 10-second power-up window of a USB key does not apply
// to a daemon; the user verification stands in for the touch.
func (p *Provider) Reset(ctx context.Context) error {
	q := userverify.Request{Operation: userverify.OpReset,
		Reason: "Delete every passkey and the PIN of passkeyd"}
	if err := p.ask(ctx, q); err != nil {
		return err
	}
	disabled := p.Settings().Disabled
	if err := p.store.Reset(); err != nil {
		return p.internal("cannot reset the store", err)
	}
	if err := p.pin.Reset(); err != nil {
		return p.internal("cannot forget the PIN", err)
	}
	p.signers.drop(nil)
	p.sessions.resetAll()
	if err := p.loadSettings(); err != nil {
		return err
	}
	if disabled {
		if err := p.SetEnabled(false); err != nil {
			return err
		}
	}
	return p.newKeyAgreement()
}

// Selection is authenticatorSelection (CTAP 2.1 §6.9): the user confirms
// that this is the authenticator to use.
func (p *Provider) Selection(ctx context.Context) error {
	if err := p.checkEnabled(); err != nil {
		return err
	}
	return p.ask(ctx, userverify.Request{Operation: userverify.OpSelection,
		Reason: "Choose passkeyd as your passkey provider"})
}
