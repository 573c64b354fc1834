package provider

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/userverify"
)

// nextAssertions is what authenticatorGetNextAssertion needs (CTAP 2.1 §6.3).
type nextAssertions struct {
	req       *ctap.GetAssertionRequest
	ext       gaExtensions
	g         *gate
	remaining []*keystore.Record
	expires   time.Time
}

// nextAssertionWindow is how long GetNextAssertion may follow (CTAP 2.1 §6.3: 30 s).
const nextAssertionWindow = 30 * time.Second

// GetAssertion is authenticatorGetAssertion (CTAP 2.1 §6.2). With several
// discoverable credentials and no allowList it answers the newest with
// numberOfCredentials, and the rest come through GetNextAssertion.
func (p *Provider) GetAssertion(ctx context.Context, req *ctap.GetAssertionRequest) (*ctap.GetAssertionResponse, error) {
	if req.PinUvAuthParam != nil && len(req.PinUvAuthParam) == 0 {
		return nil, p.probe(ctx)
	}
	g, ext, err := p.prepareGA(ctx, req)
	if err != nil {
		return nil, err
	}
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	ss.next = nil
	ss.mu.Unlock()
	creds, err := p.authorizeGA(ctx, ss, req, g)
	if err != nil {
		return nil, err
	}
	resp, err := p.assert(creds[0], req, ext, g)
	if err != nil || len(creds) == 1 || len(req.AllowList) > 0 {
		return resp, err
	}
	resp.NumberOfCredentials = len(creds)
	ss.mu.Lock()
	ss.next = &nextAssertions{req: req, ext: ext, g: g, remaining: creds[1:], expires: p.cfg.Now().Add(nextAssertionWindow)}
	ss.mu.Unlock()
	return resp, nil
}

// prepareGA refuses what cannot be served before anything is looked up:
// the switch, an injected fault, bad parameters and extensions.
func (p *Provider) prepareGA(ctx context.Context, req *ctap.GetAssertionRequest) (*gate, gaExtensions, error) {
	var ext gaExtensions
	if err := p.checkEnabled(); err != nil {
		return nil, ext, err
	}
	fault := p.takeFault(FaultOpGet)
	if err := applyFault(ctx, fault); err != nil {
		return nil, ext, err
	}
	if err := validateGA(req); err != nil {
		return nil, ext, err
	}
	ext, err := parseGAExtensions(req.Extensions)
	if err != nil {
		return nil, ext, err
	}
	g := p.gaGate(req)
	g.fault = fault
	return g, ext, nil
}

// authorizeGA checks the token, finds the passkeys, then asks the user once,
// naming the account when one passkey matches: nobody is asked when there
// is nothing to use.
func (p *Provider) authorizeGA(ctx context.Context, ss *session, req *ctap.GetAssertionRequest, g *gate) ([]*keystore.Record, error) {
	if err := p.authorize(ss, g); err != nil {
		return nil, err
	}
	creds, err := p.locate(req, g.willVerify())
	if err != nil {
		return nil, err
	}
	if len(creds) == 1 {
		g.question.UserName = creds[0].UserName
		g.question.Reason = "Sign in to " + req.RPID + " as " + creds[0].UserName
	}
	if err := p.verifyUser(ctx, g); err != nil {
		return nil, err
	}
	return creds, p.presence(ctx, g)
}

// GetNextAssertion is authenticatorGetNextAssertion (CTAP 2.1 §6.3).
func (p *Provider) GetNextAssertion(ctx context.Context) (*ctap.GetAssertionResponse, error) {
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	n := ss.next
	if n == nil || len(n.remaining) == 0 || p.cfg.Now().After(n.expires) {
		ss.next = nil
		ss.mu.Unlock()
		return nil, ctap.Errorf(ctap.ErrNotAllowed, "no GetAssertion with more credentials precedes this")
	}
	rec := n.remaining[0]
	n.remaining = n.remaining[1:]
	n.expires = p.cfg.Now().Add(nextAssertionWindow)
	ss.mu.Unlock()
	return p.assert(rec, n.req, n.ext, n.g)
}

func validateGA(req *ctap.GetAssertionRequest) error {
	switch {
	case req.RPID == "":
		return ctap.Errorf(ctap.ErrMissingParameter, "rpId is missing")
	case req.ClientDataHash == nil:
		return ctap.Errorf(ctap.ErrMissingParameter, "clientDataHash is missing")
	case len(req.ClientDataHash) != 32:
		return ctap.Errorf(ctap.ErrInvalidLength, "clientDataHash must be 32 bytes")
	}
	if _, ok := req.Options["rk"]; ok {
		return ctap.Errorf(ctap.ErrUnsupportedOption, "the rk option is not valid in GetAssertion")
	}
	_, err := pinUvParamPresent(req.PinUvAuthParam, req.PinUvAuthProtocol)
	return err
}

func (p *Provider) gaGate(req *ctap.GetAssertionRequest) *gate {
	up, ok := req.Options["up"]
	if !ok {
		up = true
	}
	return &gate{
		proto: req.PinUvAuthProtocol, param: req.PinUvAuthParam, msg: req.ClientDataHash,
		perm: ctap.PermGetAssertion, rpID: req.RPID,
		wantUV: req.Options["uv"] || p.Settings().AlwaysUV, wantUP: up,
		question: userverify.Request{Operation: userverify.OpGetAssertion, RPID: req.RPID,
			Reason: "Sign in to " + req.RPID},
	}
}

// locate finds the credentials the request may use (CTAP 2.1 §6.2.2 step 7),
// applying credProtect: level 3 needs UV, level 2 needs UV or an allowList.
func (p *Provider) locate(req *ctap.GetAssertionRequest, uv bool) ([]*keystore.Record, error) {
	var found []*keystore.Record
	if len(req.AllowList) > 0 {
		for _, d := range req.AllowList {
			rec, err := p.store.Credential(d.ID)
			if err == nil && d.Type == ctap.PublicKeyType && rec.RPID == req.RPID && (rec.CredProtect < 3 || uv) {
				return []*keystore.Record{rec}, nil
			}
		}
	} else {
		h := sha256.Sum256([]byte(req.RPID))
		all, err := p.store.Credentials(&h)
		if err != nil {
			return nil, p.internal("cannot read credentials", err)
		}
		for _, rec := range all {
			if rec.Discoverable && (rec.CredProtect < 2 || uv) {
				found = append(found, rec)
			}
		}
	}
	if len(found) == 0 {
		return nil, ctap.Errorf(ctap.ErrNoCredentials, "no credential for %s", req.RPID)
	}
	return found, nil
}

// assert signs one assertion with rec and advances its counter.
func (p *Provider) assert(rec *keystore.Record, req *ctap.GetAssertionRequest, ext gaExtensions, g *gate) (*ctap.GetAssertionResponse, error) {
	signer, err := p.signer(rec)
	if err != nil {
		return nil, p.internal("cannot open the key", err)
	}
	counter, err := p.store.NextCounter(rec.ID)
	if err != nil {
		return nil, p.internal("cannot advance the signature counter", err)
	}
	if p.cfg.ZeroCounter {
		counter = 0
	}
	a := &ctap.AuthData{RPIDHash: rec.RPIDHash(), Flags: g.flags() | backupFlags(rec), Counter: counter}
	resp := &ctap.GetAssertionResponse{Credential: &ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: rec.ID}}
	if err := p.gaExtensionOutputs(a, resp, rec, ext, g.uv); err != nil {
		return nil, err
	}
	g.fault.mutateAuthData(a)
	resp.AuthData = a.Marshal()
	if resp.Signature, err = sign(signer, resp.AuthData, req.ClientDataHash); err != nil {
		return nil, p.internal("cannot sign", err)
	}
	resp.Signature = g.fault.mutateSignature(resp.Signature)
	p.emit(Event{Type: EventCredentialAsserted, CredentialID: rec.ID, RPID: rec.RPID, UserName: rec.UserName, SignCount: a.Counter})
	if rec.Discoverable {
		resp.User = &ctap.UserEntity{ID: rec.UserID}
		if g.uv && len(req.AllowList) == 0 {
			resp.User.Name, resp.User.DisplayName = rec.UserName, rec.UserDisplayName
		}
	}
	return resp, nil
}

// gaExtensionOutputs fills the extension outputs of one assertion.
func (p *Provider) gaExtensionOutputs(a *ctap.AuthData, resp *ctap.GetAssertionResponse, rec *keystore.Record, ext gaExtensions, uv bool) error {
	out := map[string]any{}
	if ext.credBlob {
		out[extCredBlob] = append([]byte{}, rec.CredBlob...)
	}
	if ext.hmacSecret != nil || ext.largeBlobKey {
		sec, err := p.openSecrets(rec)
		if err != nil {
			return err
		}
		if ext.hmacSecret != nil && sec.CredRandomUV != nil {
			if out[extHMACSecret], err = p.hmacSecret(ext.hmacSecret, sec, uv); err != nil {
				return err
			}
		}
		if ext.largeBlobKey {
			resp.LargeBlobKey = sec.LargeBlobKey
		}
	}
	if len(out) > 0 {
		a.Extensions = ctap.MustMarshal(out)
	}
	return nil
}

func (p *Provider) openSecrets(rec *keystore.Record) (*secrets, error) {
	var s secrets
	if rec.SealedSecrets == nil {
		return &s, nil
	}
	b, err := p.sealer.Open(rec.ID, rec.SealedSecrets)
	if err != nil {
		return nil, p.internal("cannot open the extension secrets", err)
	}
	if err := ctap.Unmarshal(b, &s); err != nil {
		return nil, p.internal("extension secrets are damaged", err)
	}
	return &s, nil
}

// sign is ECDSA with SHA-256 over authenticatorData ‖ clientDataHash
// (WebAuthn §6.3.3), ASN.1 DER encoded.
func sign(s crypto.Signer, authData, clientDataHash []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(authData)
	h.Write(clientDataHash)
	return s.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
}
