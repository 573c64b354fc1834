package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sort"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/keystore"
)

// enumeration is a credential management walk in progress (CTAP 2.1 §6.8.3, §6.8.4).
type enumeration struct {
	rps   []*keystore.Record // one record per RP, for its ID and name
	creds []*keystore.Record
}

// CredentialManagement is authenticatorCredentialManagement (CTAP 2.1 §6.8),
// all seven subcommands. It works while the provider is switched off: a
// person can always see and delete their passkeys.
func (p *Provider) CredentialManagement(ctx context.Context, req *ctap.CredMgmtRequest) (*ctap.CredMgmtResponse, error) {
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	switch req.SubCommand {
	case ctap.CMEnumerateRPsNext:
		return p.nextRP(ss)
	case ctap.CMEnumerateCredsNext:
		return p.nextCred(ss)
	}
	ss.enum = nil
	t, err := p.cmToken(ss, req)
	if err != nil {
		return nil, err
	}
	var params ctap.CredMgmtParams
	if len(req.SubCommandParams) > 0 {
		if err := ctap.Unmarshal(req.SubCommandParams, &params); err != nil {
			return nil, err
		}
	}
	switch req.SubCommand {
	case ctap.CMGetCredsMetadata:
		return p.credsMetadata(t)
	case ctap.CMEnumerateRPsBegin:
		return p.beginRPs(ss, t)
	case ctap.CMEnumerateCredsBegin:
		return p.beginCreds(ss, t, params)
	case ctap.CMDeleteCredential:
		return nil, p.deleteCred(t, params)
	case ctap.CMUpdateUserInformation:
		return nil, p.updateUser(t, params)
	}
	return nil, ctap.Errorf(ctap.ErrInvalidSubcommand, "credential management subcommand 0x%02x is not known", req.SubCommand)
}

// cmToken checks pinUvAuthParam over subCommand ‖ subCommandParams.
func (p *Provider) cmToken(ss *session, req *ctap.CredMgmtRequest) (*pinToken, error) {
	if req.PinUvAuthParam == nil {
		return nil, ctap.Errorf(ctap.ErrPUATRequired, "credential management needs a pinUvAuthToken")
	}
	msg := append([]byte{byte(req.SubCommand)}, req.SubCommandParams...)
	return p.useToken(ss, req.PinUvAuthProtocol, req.PinUvAuthParam, msg, ctap.PermCredMgmt, "")
}

// discoverable returns every discoverable credential, newest first.
func (p *Provider) discoverable(rpIDHash *[32]byte) ([]*keystore.Record, error) {
	all, err := p.store.Credentials(rpIDHash)
	if err != nil {
		return nil, p.internal("cannot read credentials", err)
	}
	out := all[:0]
	for _, r := range all {
		if r.Discoverable {
			out = append(out, r)
		}
	}
	return out, nil
}

func uptr(n int) *uint { u := uint(n); return &u }

func (p *Provider) credsMetadata(t *pinToken) (*ctap.CredMgmtResponse, error) {
	if t.rpID != "" {
		return nil, ctap.Errorf(ctap.ErrUnauthorizedPermission, "the token is limited to one RP")
	}
	creds, err := p.discoverable(nil)
	if err != nil {
		return nil, err
	}
	return &ctap.CredMgmtResponse{ExistingResidentCredentialsCount: uptr(len(creds)),
		MaxPossibleRemainingCredentials: uptr(max(0, MaxDiscoverable-len(creds)))}, nil
}

func (p *Provider) beginRPs(ss *session, t *pinToken) (*ctap.CredMgmtResponse, error) {
	if t.rpID != "" {
		return nil, ctap.Errorf(ctap.ErrUnauthorizedPermission, "the token is limited to one RP")
	}
	creds, err := p.discoverable(nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var rps []*keystore.Record
	for _, c := range creds {
		if !seen[c.RPID] {
			seen[c.RPID] = true
			rps = append(rps, c)
		}
	}
	if len(rps) == 0 {
		return nil, ctap.Errorf(ctap.ErrNoCredentials, "no discoverable credentials")
	}
	sort.Slice(rps, func(i, j int) bool { return rps[i].RPID < rps[j].RPID })
	ss.enum = &enumeration{rps: rps[1:]}
	resp := rpResponse(rps[0])
	resp.TotalRPs = uptr(len(rps))
	return resp, nil
}

func rpResponse(r *keystore.Record) *ctap.CredMgmtResponse {
	h := r.RPIDHash()
	return &ctap.CredMgmtResponse{RP: &ctap.RPEntity{ID: r.RPID, Name: r.RPName}, RPIDHash: h[:]}
}

func (p *Provider) nextRP(ss *session) (*ctap.CredMgmtResponse, error) {
	if ss.enum == nil || len(ss.enum.rps) == 0 {
		return nil, ctap.Errorf(ctap.ErrNotAllowed, "no RP enumeration in progress")
	}
	r := ss.enum.rps[0]
	ss.enum.rps = ss.enum.rps[1:]
	return rpResponse(r), nil
}

func (p *Provider) beginCreds(ss *session, t *pinToken, params ctap.CredMgmtParams) (*ctap.CredMgmtResponse, error) {
	if len(params.RPIDHash) != 32 {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "rpIDHash is missing")
	}
	var h [32]byte
	copy(h[:], params.RPIDHash)
	if t.rpID != "" && sha256.Sum256([]byte(t.rpID)) != h {
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "the token is bound to another RP")
	}
	creds, err := p.discoverable(&h)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, ctap.Errorf(ctap.ErrNoCredentials, "no discoverable credentials for this RP")
	}
	ss.enum = &enumeration{creds: creds[1:]}
	resp, err := p.credResponse(creds[0])
	if err == nil {
		resp.TotalCredentials = uptr(len(creds))
	}
	return resp, err
}

func (p *Provider) nextCred(ss *session) (*ctap.CredMgmtResponse, error) {
	if ss.enum == nil || len(ss.enum.creds) == 0 {
		return nil, ctap.Errorf(ctap.ErrNotAllowed, "no credential enumeration in progress")
	}
	r := ss.enum.creds[0]
	ss.enum.creds = ss.enum.creds[1:]
	return p.credResponse(r)
}

func (p *Provider) credResponse(r *keystore.Record) (*ctap.CredMgmtResponse, error) {
	k, err := ctap.NewCOSEKey(ctap.COSEAlgES256, r.PublicKey)
	if err != nil {
		return nil, p.internal("stored public key is damaged", err)
	}
	resp := &ctap.CredMgmtResponse{
		User:         &ctap.UserEntity{ID: r.UserID, Name: r.UserName, DisplayName: r.UserDisplayName},
		CredentialID: &ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: r.ID},
		PublicKey:    k, CredProtect: uint(r.CredProtect),
		Created: unixOrZero(r.Created), LastUsed: unixOrZero(r.LastUsed),
	}
	if r.SealedSecrets != nil {
		s, err := p.openSecrets(r)
		if err != nil {
			return nil, err
		}
		resp.LargeBlobKey = s.LargeBlobKey
	}
	return resp, nil
}

// unixOrZero is t in Unix seconds, or 0 (left out of the reply) when t is unset.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// credForToken finds the credential named in params, within the token's RP.
func (p *Provider) credForToken(t *pinToken, params ctap.CredMgmtParams) (*keystore.Record, error) {
	if params.CredentialID == nil || params.CredentialID.ID == nil {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "credentialID is missing")
	}
	rec, err := p.store.Credential(params.CredentialID.ID)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, ctap.Errorf(ctap.ErrNoCredentials, "no such credential")
	} else if err != nil {
		return nil, p.internal("cannot read the credential", err)
	}
	if t.rpID != "" && t.rpID != rec.RPID {
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "the token is bound to another RP")
	}
	return rec, nil
}

func (p *Provider) deleteCred(t *pinToken, params ctap.CredMgmtParams) error {
	rec, err := p.credForToken(t, params)
	if err != nil {
		return err
	}
	if err := p.store.Delete(rec.ID); err != nil {
		return p.internal("cannot delete the credential", err)
	}
	p.signers.drop(rec.ID)
	p.emit(Event{Type: EventCredentialDeleted, CredentialID: rec.ID, RPID: rec.RPID, UserName: rec.UserName})
	return nil
}

func (p *Provider) updateUser(t *pinToken, params ctap.CredMgmtParams) error {
	rec, err := p.credForToken(t, params)
	if err != nil {
		return err
	}
	if params.User == nil {
		return ctap.Errorf(ctap.ErrMissingParameter, "user is missing")
	}
	if !bytes.Equal(params.User.ID, rec.UserID) {
		return ctap.Errorf(ctap.ErrInvalidParameter, "user.id does not match the credential's user handle")
	}
	err = p.store.Update(rec.ID, func(r *keystore.Record) error {
		r.UserName, r.UserDisplayName = params.User.Name, params.User.DisplayName
		return nil
	})
	if err != nil {
		return p.internal("cannot update the credential", err)
	}
	p.emit(Event{Type: EventCredentialUpdated, CredentialID: rec.ID, RPID: rec.RPID, UserName: params.User.Name})
	return nil
}
