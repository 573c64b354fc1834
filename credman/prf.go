package credman

import (
	"context"
	"crypto/sha256"
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
)

// The prf extension (WebAuthn L3 §10.1.4) is carried by CTAP's hmac-secret:
// each input is hashed to a salt, the salts are encrypted to the
// authenticator under a key agreement of PIN/UV auth protocol two, and the
// outputs come back encrypted the same way.

type prfValues struct {
	First  Bytes `json:"first"`
	Second Bytes `json:"second,omitempty"`
}

type prfInputs struct {
	Eval             *prfValues           `json:"eval"`
	EvalByCredential map[string]prfValues `json:"evalByCredential"`
}

// prfState keeps what is needed to decrypt the outputs.
type prfState struct {
	proto  pinuv.Protocol
	shared []byte
	second bool
}

// prfSalt is SHA-256("WebAuthn PRF" ‖ 0x00 ‖ input) (WebAuthn L3 §10.1.4).
func prfSalt(input []byte) []byte {
	h := sha256.New()
	h.Write([]byte("WebAuthn PRF\x00"))
	h.Write(input)
	return h.Sum(nil)
}

// prfInput adds the hmac-secret input for a prf request, if there is one.
func (s *Service) prfInput(ctx context.Context, ext map[string]json.RawMessage, ga *ctap.GetAssertionRequest) (*prfState, error) {
	raw, ok := ext["prf"]
	if !ok {
		return nil, nil
	}
	var in prfInputs
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, refuse(ErrInvalidRequest, "extension prf: %v", err)
	}
	vals := in.Eval
	if len(ga.AllowList) == 1 && in.EvalByCredential != nil {
		if v, ok := in.EvalByCredential[b64(ga.AllowList[0].ID)]; ok {
			vals = &v
		}
	}
	if vals == nil {
		return nil, nil
	}
	st, hin, err := s.hmacSecretInput(ctx, vals)
	if err != nil {
		return nil, err
	}
	if ga.Extensions == nil {
		ga.Extensions = map[string]cbor.RawMessage{}
	}
	ga.Extensions["hmac-secret"] = ctap.MustMarshal(hin)
	return st, nil
}

func (s *Service) hmacSecretInput(ctx context.Context, vals *prfValues) (*prfState, *ctap.HMACSecretInput, error) {
	pr := pinuv.Two{}
	ka, err := s.p.ClientPIN(ctx, &ctap.ClientPINRequest{PinUvAuthProtocol: 2, SubCommand: ctap.PINGetKeyAgreement})
	if err != nil {
		return nil, nil, fromProvider(err)
	}
	peer, err := ka.KeyAgreement.ECDH()
	if err != nil {
		return nil, nil, refuse(ErrInternal, "bad key agreement key: %v", err)
	}
	mine, shared, err := pinuv.Encapsulate(pr, peer)
	if err != nil {
		return nil, nil, refuse(ErrInternal, "key agreement: %v", err)
	}
	salts := prfSalt(vals.First)
	if vals.Second != nil {
		salts = append(salts, prfSalt(vals.Second)...)
	}
	enc, err := pr.Encrypt(shared, salts)
	if err != nil {
		return nil, nil, refuse(ErrInternal, "cannot encrypt the salts: %v", err)
	}
	cose, _ := ctap.NewCOSEKey(ctap.COSEAlgECDHESHKDF, mine.Bytes())
	in := &ctap.HMACSecretInput{KeyAgreement: cose, SaltEnc: enc, SaltAuth: pr.Authenticate(shared, enc), PinUvAuthProtocol: 2}
	return &prfState{proto: pr, shared: shared, second: vals.Second != nil}, in, nil
}

// results decrypts the hmac-secret output into prf results.
func (st *prfState) results(raw cbor.RawMessage) (map[string]any, error) {
	if raw == nil {
		return map[string]any{}, nil // the credential was made without prf
	}
	var enc []byte
	if err := ctap.Unmarshal(raw, &enc); err != nil {
		return nil, refuse(ErrInternal, "bad hmac-secret output: %v", err)
	}
	out, err := st.proto.Decrypt(st.shared, enc)
	if err != nil || len(out) < 32 {
		return nil, refuse(ErrInternal, "cannot decrypt the hmac-secret output")
	}
	r := prfValues{First: out[:32]}
	if st.second && len(out) == 64 {
		r.Second = out[32:]
	}
	return map[string]any{"results": r}, nil
}
