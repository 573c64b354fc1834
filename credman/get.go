package credman

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/ctap"
)

// Get signs in with a passkey: WebAuthn's get() as a client runs it, with
// this provider as the authenticator (Android: onGetCredential). With
// several matching passkeys and no CredentialID, the newest is used, as an
// account chooser with one tap would; BeginGet lists them to choose from.
func (s *Service) Get(ctx context.Context, req GetRequest) (*AuthenticationResponse, error) {
	c, o, ga, err := s.parseGet(req, req.CredentialID)
	if err != nil {
		return nil, err
	}
	cdh, cdj, err := hashOf(req.ClientDataHash, clientDataJSON("webauthn.get", o.Challenge, c))
	if err != nil {
		return nil, err
	}
	ga.ClientDataHash = cdh
	prf, err := s.prfInput(ctx, o.Extensions, ga)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := s.p.GetAssertion(ctx, ga)
	if err != nil {
		return nil, fromProvider(err)
	}
	return authenticationResponse(resp, cdj, prf, o.Extensions)
}

// parseGet runs the checks of a sign-in that come before the authenticator
// (shared by Get and BeginGet); chosen restricts it to one credential.
func (s *Service) parseGet(req GetRequest, chosen []byte) (*Caller, *RequestOptions, *ctap.GetAssertionRequest, error) {
	c, err := ParseOrigin(req.Origin, req.PackageName)
	if err != nil {
		return nil, nil, nil, err
	}
	o := &RequestOptions{}
	if err := unwrapOptions(req.RequestJSON, o); err != nil {
		return nil, nil, nil, err
	}
	ga, err := s.getAssertionRequest(c, o, chosen)
	return c, o, ga, err
}

// getAssertionRequest checks the options (WebAuthn §5.1.4.1) and turns them
// into a CTAP request; chosen restricts it to one credential.
func (s *Service) getAssertionRequest(c *Caller, o *RequestOptions, chosen []byte) (*ctap.GetAssertionRequest, error) {
	rpID, err := c.CheckRPID(o.RPID)
	if err != nil {
		return nil, err
	}
	if len(o.Challenge) == 0 {
		return nil, refuse(ErrMissingChallenge, "options.challenge is missing or empty")
	}
	req := &ctap.GetAssertionRequest{RPID: rpID,
		Options: map[string]bool{"uv": o.UserVerification != "discouraged"}}
	for _, d := range o.AllowCredentials {
		if chosen == nil || string(d.ID) == string(chosen) {
			req.AllowList = append(req.AllowList, ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: d.ID})
		}
	}
	if chosen != nil {
		if len(o.AllowCredentials) > 0 && len(req.AllowList) == 0 {
			return nil, refuse(ErrUnknownEntry, "the chosen credential is not in allowCredentials")
		}
		req.AllowList = []ctap.CredentialDescriptor{{Type: ctap.PublicKeyType, ID: chosen}}
	}
	if _, ok := o.Extensions["getCredBlob"]; ok {
		req.Extensions = map[string]cbor.RawMessage{"credBlob": ctap.MustMarshal(true)}
	}
	return req, nil
}

// authenticationResponse builds AuthenticationResponseJSON.
func authenticationResponse(resp *ctap.GetAssertionResponse, cdj []byte, prf *prfState, ext map[string]json.RawMessage) (*AuthenticationResponse, error) {
	if resp.Credential == nil {
		return nil, refuse(ErrInternal, "the authenticator did not name the credential")
	}
	id := resp.Credential.ID
	out := &AuthenticationResponse{
		ID: base64.RawURLEncoding.EncodeToString(id), RawID: id, Type: ctap.PublicKeyType,
		AuthenticatorAttachment: "platform",
		Response: AssertionResponse{ClientDataJSON: cdj, AuthenticatorData: resp.AuthData,
			Signature: resp.Signature},
		ClientExtensionResults: map[string]any{},
	}
	if resp.User != nil {
		out.Response.UserHandle = resp.User.ID
	}
	outputs, err := authExtensionOutputs(resp.AuthData)
	if err != nil {
		return nil, err
	}
	if prf != nil {
		results, err := prf.results(outputs["hmac-secret"])
		if err != nil {
			return nil, err
		}
		out.ClientExtensionResults["prf"] = results
	}
	if _, ok := ext["getCredBlob"]; ok {
		var blob []byte
		if raw := outputs["credBlob"]; raw != nil {
			_ = ctap.Unmarshal(raw, &blob)
		}
		out.ClientExtensionResults["getCredBlob"] = Bytes(blob)
	}
	return out, nil
}

func authExtensionOutputs(authData []byte) (map[string]cbor.RawMessage, error) {
	ad, err := ctap.ParseAuthData(authData)
	if err != nil {
		return nil, refuse(ErrInternal, "the authenticator returned bad authenticator data: %v", err)
	}
	m := map[string]cbor.RawMessage{}
	if ad.Extensions != nil {
		if err := ctap.Unmarshal(ad.Extensions, &m); err != nil {
			return nil, refuse(ErrInternal, "bad extension outputs: %v", err)
		}
	}
	return m, nil
}
