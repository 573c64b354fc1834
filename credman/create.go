package credman

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/ctap"
)

// attestationObject is the CBOR attestation object (WebAuthn §6.5.4).
type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

// Create registers a passkey: WebAuthn's create() as a client runs it, with
// this provider as the authenticator (Android: onCreateCredential).
func (s *Service) Create(ctx context.Context, req CreateRequest) (*RegistrationResponse, error) {
	c, o, mc, ext, err := parseCreate(req)
	if err != nil {
		return nil, err
	}
	cdh, cdj, err := hashOf(req.ClientDataHash, clientDataJSON("webauthn.create", o.Challenge, c))
	if err != nil {
		return nil, err
	}
	mc.ClientDataHash = cdh
	ctx, cancel := withTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := s.p.MakeCredential(ctx, mc)
	if err != nil {
		return nil, fromProvider(err)
	}
	return registrationResponse(resp, cdj, o.Attestation, ext)
}

// parseCreate runs the checks of a registration that come before the
// authenticator: the caller's origin, the options' shape, the rpId and the
// parameters (shared by Create and BeginCreate).
func parseCreate(req CreateRequest) (*Caller, *CreationOptions, *ctap.MakeCredentialRequest, createExtensions, error) {
	c, err := ParseOrigin(req.Origin, req.PackageName)
	if err != nil {
		return nil, nil, nil, createExtensions{}, err
	}
	o := &CreationOptions{}
	if err := unwrapOptions(req.RequestJSON, o); err != nil {
		return nil, nil, nil, createExtensions{}, err
	}
	mc, ext, err := makeCredentialRequest(c, o)
	return c, o, mc, ext, err
}

// createExtensions remembers what the client must report back.
type createExtensions struct {
	credProps, prf, largeBlob bool
	rk                        bool
}

// makeCredentialRequest checks the options (WebAuthn §5.1.3 steps 1–19) and
// turns them into a CTAP request.
func makeCredentialRequest(c *Caller, o *CreationOptions) (*ctap.MakeCredentialRequest, createExtensions, error) {
	var ext createExtensions
	rpID, err := c.CheckRPID(o.RP.ID)
	if err != nil {
		return nil, ext, err
	}
	switch {
	case len(o.Challenge) == 0:
		return nil, ext, refuse(ErrMissingChallenge, "options.challenge is missing or empty")
	case len(o.User.ID) == 0 || len(o.User.ID) > 64:
		return nil, ext, refuse(ErrInvalidRequest, "user.id must be 1 to 64 bytes (it is %d)", len(o.User.ID))
	case !acceptsES256(o):
		return nil, ext, refuse(ErrUnsupportedAlgorithm, "pubKeyCredParams must include ES256 (alg -7); passkeyd makes only ES256 keys")
	}
	req := &ctap.MakeCredentialRequest{
		RP:               &ctap.RPEntity{ID: rpID, Name: o.RP.Name},
		User:             &ctap.UserEntity{ID: o.User.ID, Name: o.User.Name, DisplayName: o.User.DisplayName},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: ctap.COSEAlgES256}},
		Options:          map[string]bool{},
	}
	for _, d := range o.ExcludeCredentials {
		req.ExcludeList = append(req.ExcludeList, ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: d.ID})
	}
	sel := o.AuthenticatorSelection
	if sel == nil {
		sel = &AuthenticatorSelection{}
	}
	// A provider holds passkeys: discoverable unless the RP discourages it.
	ext.rk = sel.ResidentKey != "discouraged" || sel.RequireResidentKey
	req.Options["rk"] = ext.rk
	req.Options["uv"] = sel.UserVerification != "discouraged"
	if err := createExtensionInputs(o.Extensions, req, &ext); err != nil {
		return nil, ext, err
	}
	return req, ext, nil
}

func acceptsES256(o *CreationOptions) bool {
	if len(o.PubKeyCredParams) == 0 {
		return true // WebAuthn §5.1.3 step 10: the default includes ES256
	}
	for _, p := range o.PubKeyCredParams {
		if p.Type == ctap.PublicKeyType && p.Alg == ctap.COSEAlgES256 {
			return true
		}
	}
	return false
}

// createExtensionInputs maps client extensions to authenticator extensions
// (WebAuthn §10, CTAP 2.1 §12).
func createExtensionInputs(in map[string]json.RawMessage, req *ctap.MakeCredentialRequest, ext *createExtensions) error {
	req.Extensions = map[string]cbor.RawMessage{}
	var bad error
	for name, raw := range in {
		switch name {
		case "credProps":
			bad = json.Unmarshal(raw, &ext.credProps)
		case "prf":
			ext.prf = true
			req.Extensions["hmac-secret"] = ctap.MustMarshal(true)
		case "largeBlob":
			var lb struct{ Support string }
			if bad = json.Unmarshal(raw, &lb); bad == nil && (lb.Support == "required" || lb.Support == "preferred") {
				ext.largeBlob = true
				req.Extensions["largeBlobKey"] = ctap.MustMarshal(true)
			}
		case "credentialProtectionPolicy":
			bad = credProtectInput(raw, req)
		case "credBlob":
			var b Bytes
			if bad = json.Unmarshal(raw, &b); bad == nil {
				req.Extensions["credBlob"] = ctap.MustMarshal([]byte(b))
			}
		case "minPinLength":
			req.Extensions["minPinLength"] = ctap.MustMarshal(true)
		}
		if bad != nil {
			return refuse(ErrInvalidRequest, "extension %s: %v", name, bad)
		}
	}
	if ext.largeBlob && !ext.rk {
		return refuse(ErrInvalidRequest, "the largeBlob extension needs residentKey required or preferred")
	}
	return nil
}

var credProtectLevels = map[string]uint{
	"userVerificationOptional":                     1,
	"userVerificationOptionalWithCredentialIDList": 2,
	"userVerificationRequired":                     3,
}

func credProtectInput(raw json.RawMessage, req *ctap.MakeCredentialRequest) error {
	var policy string
	if err := json.Unmarshal(raw, &policy); err != nil {
		return err
	}
	lvl, ok := credProtectLevels[policy]
	if !ok {
		return refuse(ErrInvalidRequest, "credentialProtectionPolicy %q is not known", policy)
	}
	req.Extensions["credProtect"] = ctap.MustMarshal(lvl)
	return nil
}

// registrationResponse builds RegistrationResponseJSON from the authenticator's answer.
func registrationResponse(resp *ctap.MakeCredentialResponse, cdj []byte, pref string, ext createExtensions) (*RegistrationResponse, error) {
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil || ad.Attested == nil {
		return nil, refuse(ErrInternal, "the authenticator returned bad authenticator data: %v", err)
	}
	st, err := conveyance(pref, resp.Fmt, resp.AttStmt, resp.AuthData)
	if err != nil {
		return nil, refuse(ErrInternal, "cannot apply the attestation preference: %v", err)
	}
	obj, err := ctap.Marshal(attestationObject{Fmt: st.Format, AttStmt: st.AttStmt, AuthData: resp.AuthData})
	if err != nil {
		return nil, refuse(ErrInternal, "cannot encode the attestation object: %v", err)
	}
	spki, err := subjectPublicKeyInfo(ad.Attested.PublicKey)
	if err != nil {
		return nil, err
	}
	id := ad.Attested.CredentialID
	out := &RegistrationResponse{
		ID: base64.RawURLEncoding.EncodeToString(id), RawID: id, Type: ctap.PublicKeyType,
		AuthenticatorAttachment: "platform",
		Response: AttestationResponse{ClientDataJSON: cdj, AuthenticatorData: resp.AuthData,
			Transports: []string{"hybrid", "internal"}, PublicKey: spki,
			PublicKeyAlgorithm: ctap.COSEAlgES256, AttestationObject: obj},
		ClientExtensionResults: map[string]any{},
	}
	if ext.credProps {
		out.ClientExtensionResults["credProps"] = map[string]bool{"rk": ext.rk}
	}
	if ext.prf {
		out.ClientExtensionResults["prf"] = map[string]bool{"enabled": authDataHasExt(ad, "hmac-secret")}
	}
	if ext.largeBlob {
		out.ClientExtensionResults["largeBlob"] = map[string]bool{"supported": resp.LargeBlobKey != nil}
	}
	return out, nil
}

func authDataHasExt(ad *ctap.AuthData, name string) bool {
	var m map[string]cbor.RawMessage
	return ad.Extensions != nil && ctap.Unmarshal(ad.Extensions, &m) == nil && m[name] != nil
}

func subjectPublicKeyInfo(cose []byte) ([]byte, error) {
	var k ctap.COSEKey
	if err := ctap.Unmarshal(cose, &k); err != nil {
		return nil, refuse(ErrInternal, "bad credential public key: %v", err)
	}
	pub, err := k.ECDSA()
	if err != nil {
		return nil, refuse(ErrInternal, "bad credential public key: %v", err)
	}
	return marshalPKIX(pub)
}

func marshalPKIX(pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, refuse(ErrInternal, "cannot encode the public key: %v", err)
	}
	return b, nil
}
