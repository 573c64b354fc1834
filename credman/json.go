package credman

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Bytes is binary data in WebAuthn JSON: base64url without padding when
// written; base64url or standard base64, padded or not, when read, because
// server libraries differ.
type Bytes []byte

// MarshalJSON implements json.Marshaler.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("expected a base64url string")
	}
	v, err := DecodeBase64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// DecodeBase64 accepts base64url or standard base64, with or without padding.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %v", err)
	}
	return b, nil
}

// Descriptor is PublicKeyCredentialDescriptorJSON (WebAuthn §5.10.3).
type Descriptor struct {
	Type       string   `json:"type"`
	ID         Bytes    `json:"id"`
	Transports []string `json:"transports,omitempty"`
}

// CreationOptions is PublicKeyCredentialCreationOptionsJSON (WebAuthn L3 §5.4).
type CreationOptions struct {
	RP struct {
		ID   string `json:"id,omitempty"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          Bytes  `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        Bytes `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	Timeout                uint64                     `json:"timeout,omitempty"`
	ExcludeCredentials     []Descriptor               `json:"excludeCredentials,omitempty"`
	AuthenticatorSelection *AuthenticatorSelection    `json:"authenticatorSelection,omitempty"`
	Hints                  []string                   `json:"hints,omitempty"`
	Attestation            string                     `json:"attestation,omitempty"`
	AttestationFormats     []string                   `json:"attestationFormats,omitempty"`
	Extensions             map[string]json.RawMessage `json:"extensions,omitempty"`
}

// AuthenticatorSelection is AuthenticatorSelectionCriteria (WebAuthn §5.4.4).
type AuthenticatorSelection struct {
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	ResidentKey             string `json:"residentKey,omitempty"`
	RequireResidentKey      bool   `json:"requireResidentKey,omitempty"`
	UserVerification        string `json:"userVerification,omitempty"`
}

// RequestOptions is PublicKeyCredentialRequestOptionsJSON (WebAuthn L3 §5.5).
type RequestOptions struct {
	Challenge        Bytes                      `json:"challenge"`
	Timeout          uint64                     `json:"timeout,omitempty"`
	RPID             string                     `json:"rpId,omitempty"`
	AllowCredentials []Descriptor               `json:"allowCredentials,omitempty"`
	UserVerification string                     `json:"userVerification,omitempty"`
	Hints            []string                   `json:"hints,omitempty"`
	Extensions       map[string]json.RawMessage `json:"extensions,omitempty"`
}

// RegistrationResponse is RegistrationResponseJSON (WebAuthn L3 §5.1).
type RegistrationResponse struct {
	ID                      string              `json:"id"`
	RawID                   Bytes               `json:"rawId"`
	Type                    string              `json:"type"`
	AuthenticatorAttachment string              `json:"authenticatorAttachment"`
	Response                AttestationResponse `json:"response"`
	ClientExtensionResults  map[string]any      `json:"clientExtensionResults"`
}

// AttestationResponse is AuthenticatorAttestationResponseJSON (WebAuthn L3 §5.2.1).
type AttestationResponse struct {
	ClientDataJSON     Bytes    `json:"clientDataJSON,omitempty"`
	AuthenticatorData  Bytes    `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          Bytes    `json:"publicKey"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	AttestationObject  Bytes    `json:"attestationObject"`
}

// AuthenticationResponse is AuthenticationResponseJSON (WebAuthn L3 §5.1).
type AuthenticationResponse struct {
	ID                      string            `json:"id"`
	RawID                   Bytes             `json:"rawId"`
	Type                    string            `json:"type"`
	AuthenticatorAttachment string            `json:"authenticatorAttachment"`
	Response                AssertionResponse `json:"response"`
	ClientExtensionResults  map[string]any    `json:"clientExtensionResults"`
}

// AssertionResponse is AuthenticatorAssertionResponseJSON (WebAuthn L3 §5.2.2).
type AssertionResponse struct {
	ClientDataJSON    Bytes `json:"clientDataJSON,omitempty"`
	AuthenticatorData Bytes `json:"authenticatorData"`
	Signature         Bytes `json:"signature"`
	UserHandle        Bytes `json:"userHandle,omitempty"`
}

// unwrapOptions accepts options bare or wrapped as {"publicKey": …}, as many
// server libraries emit them, and decodes them strictly enough to say what
// is wrong.
func unwrapOptions(raw []byte, v any) error {
	var wrapper struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &wrapper); err != nil {
		return refuse(ErrInvalidRequest, "requestJson is not a JSON object: %v", err)
	}
	if len(wrapper.PublicKey) > 0 && !bytes.Equal(wrapper.PublicKey, []byte("null")) {
		raw = wrapper.PublicKey
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return refuse(ErrInvalidRequest, "requestJson does not have the WebAuthn shape: %v", err)
	}
	return nil
}

// clientDataJSON builds CollectedClientData (WebAuthn §5.8.1) with the
// members in the order browsers write them.
func clientDataJSON(typ string, challenge []byte, c *Caller) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	s := `{"type":` + q(typ) + `,"challenge":` + q(base64.RawURLEncoding.EncodeToString(challenge)) +
		`,"origin":` + q(c.Origin) + `,"crossOrigin":false`
	if c.PackageName != "" {
		s += `,"androidPackageName":` + q(c.PackageName)
	}
	return []byte(s + "}")
}

// RequestJSON is options JSON as a caller hands it over: a JSON object, or,
// as Android's API passes requestJson, a string that holds one.
type RequestJSON []byte

// UnmarshalJSON implements json.Unmarshaler.
func (r *RequestJSON) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*r = RequestJSON(s)
		return nil
	}
	*r = append(RequestJSON(nil), data...)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (r RequestJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return []byte(r), nil
}
