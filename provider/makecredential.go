package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/userverify"
)

// credentialIDLength is the length of a new credential ID: random, so that
// IDs reveal nothing and never collide.
const credentialIDLength = 32

// MakeCredential is authenticatorMakeCredential (CTAP 2.1 §6.1): it asks the
// user once, creates an ES256 key in the Sealer, stores the record durably
// and returns the attestation. A refused or failed request leaves nothing.
func (p *Provider) MakeCredential(ctx context.Context, req *ctap.MakeCredentialRequest) (*ctap.MakeCredentialResponse, error) {
	if req.PinUvAuthParam != nil && len(req.PinUvAuthParam) == 0 {
		return nil, p.probe(ctx)
	}
	if err := p.checkEnabled(); err != nil {
		return nil, err
	}
	fault := p.takeFault(FaultOpCreate)
	if err := applyFault(ctx, fault); err != nil {
		return nil, err
	}
	if err := validateMC(req); err != nil {
		return nil, err
	}
	ext, err := parseMCExtensions(req.Extensions)
	if err != nil {
		return nil, err
	}
	rk := req.Options["rk"]
	if ext.largeBlobKey && !rk {
		return nil, ctap.Errorf(ctap.ErrInvalidOption, "largeBlobKey needs a discoverable credential (rk)")
	}
	g := p.mcGate(req, rk)
	g.fault = fault
	if err := p.authorize(p.sessions.get(ctx), g); err != nil {
		return nil, err
	}
	if err := p.verifyUser(ctx, g); err != nil {
		return nil, err
	}
	if err := p.presence(ctx, g); err != nil {
		return nil, err
	}
	if err := p.checkExcluded(req, g.uv); err != nil {
		return nil, err
	}
	return p.createCredential(req, ext, rk, g)
}

// validateMC checks the required parameters (CTAP 2.1 §6.1.2 steps 2–5).
func validateMC(req *ctap.MakeCredentialRequest) error {
	switch {
	case req.ClientDataHash == nil:
		return ctap.Errorf(ctap.ErrMissingParameter, "clientDataHash is missing")
	case req.RP == nil || req.RP.ID == "":
		return ctap.Errorf(ctap.ErrMissingParameter, "rp.id is missing")
	case req.User == nil || req.User.ID == nil:
		return ctap.Errorf(ctap.ErrMissingParameter, "user.id is missing")
	case req.PubKeyCredParams == nil:
		return ctap.Errorf(ctap.ErrMissingParameter, "pubKeyCredParams is missing")
	case len(req.ClientDataHash) != 32:
		return ctap.Errorf(ctap.ErrInvalidLength, "clientDataHash must be 32 bytes")
	case len(req.User.ID) > 64:
		return ctap.Errorf(ctap.ErrInvalidLength, "user.id is longer than 64 bytes")
	}
	if _, err := pinUvParamPresent(req.PinUvAuthParam, req.PinUvAuthProtocol); err != nil {
		return err
	}
	if !supportsES256(req.PubKeyCredParams) {
		return ctap.Errorf(ctap.ErrUnsupportedAlgorithm, "only ES256 (-7) keys are made here")
	}
	if up, ok := req.Options["up"]; ok && !up {
		return ctap.Errorf(ctap.ErrInvalidOption, "up=false is not allowed in MakeCredential")
	}
	return nil
}

func supportsES256(params []ctap.CredentialParameter) bool {
	for _, cp := range params {
		if cp.Type == ctap.PublicKeyType && cp.Alg == ctap.COSEAlgES256 {
			return true
		}
	}
	return false
}

// mcGate decides how the registration is authorized. A discoverable
// credential always gets user verification, and so does every operation
// under alwaysUv.
func (p *Provider) mcGate(req *ctap.MakeCredentialRequest, rk bool) *gate {
	name := req.User.Name
	if name == "" {
		name = req.User.DisplayName
	}
	return &gate{
		proto: req.PinUvAuthProtocol, param: req.PinUvAuthParam, msg: req.ClientDataHash,
		perm: ctap.PermMakeCredential, rpID: req.RP.ID,
		wantUV: req.Options["uv"] || rk || p.Settings().AlwaysUV, wantUP: true,
		question: userverify.Request{Operation: userverify.OpMakeCredential, RPID: req.RP.ID, UserName: name,
			Reason: fmt.Sprintf("Create a passkey for %s as %s", req.RP.ID, name)},
	}
}

// checkExcluded refuses to make a second credential for an account the RP
// listed (CTAP 2.1 §6.1.2 step 12). The user has been asked by now, as the
// specification requires before CREDENTIAL_EXCLUDED is revealed.
func (p *Provider) checkExcluded(req *ctap.MakeCredentialRequest, uv bool) error {
	for _, d := range req.ExcludeList {
		rec, err := p.store.Credential(d.ID)
		if err != nil || rec.RPID != req.RP.ID {
			continue
		}
		if rec.CredProtect == 3 && !uv {
			continue
		}
		return ctap.Errorf(ctap.ErrCredentialExcluded, "a credential in excludeList already exists for %s", req.RP.ID)
	}
	return nil
}

// createCredential makes the key, the authenticator data and the attestation,
// then stores the record; the record is written last so that any failure
// before leaves nothing behind.
func (p *Provider) createCredential(req *ctap.MakeCredentialRequest, ext mcExtensions, rk bool, g *gate) (*ctap.MakeCredentialResponse, error) {
	id := p.random(credentialIDLength)
	sealed, signer, err := p.sealer.NewKey(id)
	if err != nil {
		return nil, p.internal("cannot create a key", err)
	}
	point, cose, err := publicKey(signer)
	if err != nil {
		return nil, p.internal("cannot encode the public key", err)
	}
	rec := p.newRecord(req, id, point, sealed, rk, ext)
	sec, err := p.newSecrets(rec, ext)
	if err != nil {
		return nil, err
	}
	ad := p.mcAuthData(rec, cose, ext, g)
	g.fault.mutateAuthData(ad)
	authData := ad.Marshal()
	st, err := p.attester.Attest(attestation.Input{AuthData: authData, ClientDataHash: req.ClientDataHash,
		CredentialID: id, CredentialKey: signer, AAGUID: p.cfg.AAGUID})
	if err != nil {
		return nil, p.internal("cannot make the attestation statement", err)
	}
	if err := p.store.Create(rec); err != nil {
		return nil, p.internal("cannot store the credential", err)
	}
	p.signers.put(id, signer)
	p.emit(Event{Type: EventCredentialAdded, CredentialID: id, RPID: rec.RPID, UserName: rec.UserName})
	resp := &ctap.MakeCredentialResponse{Fmt: st.Format, AuthData: authData, AttStmt: g.fault.mutateAttStmt(st.AttStmt)}
	if ext.largeBlobKey {
		resp.LargeBlobKey = sec.LargeBlobKey
	}
	return resp, nil
}

func (p *Provider) newRecord(req *ctap.MakeCredentialRequest, id, point, sealed []byte, rk bool, ext mcExtensions) *keystore.Record {
	now := p.cfg.Now().UTC()
	rec := &keystore.Record{ID: id, RPID: req.RP.ID, RPName: req.RP.Name, UserID: req.User.ID,
		UserName: req.User.Name, UserDisplayName: req.User.DisplayName, PublicKey: point, SealedKey: sealed,
		Discoverable: rk, CredProtect: ext.credProtect, BackupEligible: p.cfg.BackupEligible,
		BackupState: p.cfg.BackupState, Created: now}
	if rec.CredProtect == 0 {
		rec.CredProtect = 1
	}
	if ext.hasCredBlob && len(ext.credBlob) <= MaxCredBlobLength {
		rec.CredBlob = ext.credBlob
	}
	return rec
}

// newSecrets makes and seals the extension secrets the credential needs.
func (p *Provider) newSecrets(rec *keystore.Record, ext mcExtensions) (*secrets, error) {
	s := &secrets{}
	if ext.hmacSecret {
		s.CredRandomUV, s.CredRandomNoUV = p.random(32), p.random(32)
	}
	if ext.largeBlobKey {
		s.LargeBlobKey = p.random(32)
	}
	if s.CredRandomUV == nil && s.LargeBlobKey == nil {
		return s, nil
	}
	sealed, err := p.sealer.Seal(rec.ID, ctap.MustMarshal(s))
	if err != nil {
		return nil, p.internal("cannot seal the extension secrets", err)
	}
	rec.SealedSecrets = sealed
	return s, nil
}

func (p *Provider) mcAuthData(rec *keystore.Record, cose []byte, ext mcExtensions, g *gate) *ctap.AuthData {
	a := &ctap.AuthData{RPIDHash: rec.RPIDHash(), Flags: g.flags() | backupFlags(rec),
		Attested: &ctap.AttestedCredential{AAGUID: p.cfg.AAGUID, CredentialID: rec.ID, PublicKey: cose}}
	out := map[string]any{}
	if ext.credProtect != 0 {
		out[extCredProtect] = ext.credProtect
	}
	if ext.hmacSecret {
		out[extHMACSecret] = true
	}
	if ext.hasCredBlob {
		out[extCredBlob] = rec.CredBlob != nil
	}
	if ext.minPINLength && p.mayReadMinPIN(rec.RPID) {
		out[extMinPINLength] = p.Settings().MinPIN()
	}
	if len(out) > 0 {
		a.Extensions = ctap.MustMarshal(out)
	}
	return a
}

func (p *Provider) mayReadMinPIN(rpID string) bool {
	for _, id := range p.Settings().MinPINLengthRPIDs {
		if id == rpID {
			return true
		}
	}
	return false
}

func backupFlags(rec *keystore.Record) ctap.Flags {
	var f ctap.Flags
	if rec.BackupEligible {
		f |= ctap.FlagBE
	}
	if rec.BackupState {
		f |= ctap.FlagBS
	}
	return f
}

// publicKey returns the signer's key as an uncompressed point and a COSE key.
func publicKey(s crypto.Signer) (point, cose []byte, err error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("key is %T, not ECDSA", s.Public())
	}
	k, err := ctap.COSEKeyFromECDSA(pub)
	if err != nil {
		return nil, nil, err
	}
	point, _ = k.Point()
	return point, ctap.MustMarshal(k), nil
}

// internal logs an internal failure and returns CTAP1_ERR_OTHER with a reason.
func (p *Provider) internal(what string, err error) error {
	p.log.Error("provider: "+what, "err", err)
	return ctap.Errorf(ctap.ErrOther, "%s: %v", what, err)
}
