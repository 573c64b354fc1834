package decode

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/passkeyd/passkeyd/credman"
)

// Credential is what a RegistrationResponseJSON or
// AuthenticationResponseJSON says besides its binary parts (WebAuthn L3
// §5.1).
type Credential struct {
	ID                      string          `json:"id"`
	RawID                   credman.Bytes   `json:"rawId,omitempty"`
	Type                    string          `json:"type"`
	AuthenticatorAttachment string          `json:"authenticatorAttachment,omitempty"`
	Transports              []string        `json:"transports,omitempty"`
	PublicKeyAlgorithm      *int            `json:"publicKeyAlgorithm,omitempty"`
	PublicKeyLength         int             `json:"publicKeyLength,omitempty"` // the SubjectPublicKeyInfo's, when given
	Signature               *Signature      `json:"signature,omitempty"`
	UserHandle              credman.Bytes   `json:"userHandle,omitempty"`
	UserHandleText          string          `json:"userHandleText,omitempty"` // when it is printable
	ClientExtensionResults  json.RawMessage `json:"clientExtensionResults,omitempty"`
	Warnings                []string        `json:"warnings,omitempty"`
}

// wrappers are the members that carry a response in api.sock's answers
// and in Android's Credential Manager.
var wrappers = []string{"registrationResponseJson", "authenticationResponseJson"}

// jsonObject decodes a JSON object: clientDataJSON, a response, or a
// wrapper around one.
func (d *decoder) jsonObject(in []byte) (*Result, error) {
	d.noteEncoding("JSON")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(in, &m); err != nil {
		return nil, fmt.Errorf("input is not a JSON object: %v", err)
	}
	for _, w := range wrappers {
		if raw, ok := m[w]; ok {
			return d.wrapped(raw, w)
		}
	}
	switch {
	case m["response"] != nil:
		return d.response(m)
	case m["challenge"] != nil && m["type"] != nil:
		cd, err := d.clientData(in, "clientDataJSON")
		if err != nil {
			return nil, err
		}
		return &Result{Kind: KindClientData, Encoding: d.encoded, ClientData: cd}, nil
	}
	return nil, fmt.Errorf("input is a JSON object with %s, which is neither clientDataJSON nor a RegistrationResponseJSON or AuthenticationResponseJSON", memberList(m))
}

// wrapped decodes {"registrationResponseJson": …}, whose value is the
// response as an object or as a string holding one.
func (d *decoder) wrapped(raw json.RawMessage, name string) (*Result, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		raw = trimInput([]byte(s))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%s is not a JSON object", name)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return d.response(m)
}

func memberList(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "no members"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, fmt.Sprintf("%q", k))
	}
	sort.Strings(names)
	if len(names) > 6 {
		names = append(names[:6], "…")
	}
	return "members " + strings.Join(names, ", ")
}

// clientData decodes clientDataJSON and remembers its origin, which helps
// name the rpIdHash of the parts that follow.
func (d *decoder) clientData(b []byte, where string) (*ClientData, error) {
	cd, err := clientData(b, where)
	if err != nil {
		return nil, err
	}
	d.origin = cd.Origin
	return cd, nil
}

// response decodes a RegistrationResponseJSON or AuthenticationResponseJSON.
func (d *decoder) response(m map[string]json.RawMessage) (*Result, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(m["response"], &resp); err != nil {
		return nil, errors.New("response is not a JSON object")
	}
	cred, err := credential(m)
	if err != nil {
		return nil, err
	}
	r := &Result{Encoding: d.encoded, Credential: cred}
	if raw, ok := resp["clientDataJSON"]; ok {
		b, err := base64Field(raw, "response.clientDataJSON")
		if err != nil {
			return nil, err
		}
		if r.ClientData, err = d.clientData(b, "response.clientDataJSON"); err != nil {
			return nil, err
		}
	} else {
		cred.warn("response.clientDataJSON is missing (a privileged caller that supplied clientDataHash gets none)")
	}
	switch {
	case resp["attestationObject"] != nil:
		r.Kind = KindRegistration
		err = d.registration(r, resp)
	case resp["signature"] != nil:
		r.Kind = KindAuthentication
		err = d.authentication(r, resp)
	default:
		err = errors.New("response has neither attestationObject (a registration) nor signature (an authentication)")
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// credential reads the members common to both responses.
func credential(m map[string]json.RawMessage) (*Credential, error) {
	c := &Credential{ClientExtensionResults: m["clientExtensionResults"]}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"id", &c.ID}, {"type", &c.Type}, {"authenticatorAttachment", &c.AuthenticatorAttachment}} {
		if err := nullableString(m, f.name, f.dst); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["rawId"]; ok {
		b, err := base64Field(raw, "rawId")
		if err != nil {
			return nil, err
		}
		c.RawID = b
	}
	c.check()
	return c, nil
}

// nullableString copies m[name] into dst when it is present and not null.
func nullableString(m map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s is %s, not a string", name, raw)
	}
	return nil
}

func (c *Credential) check() {
	if c.Type != "public-key" {
		c.warn("type is %q, not \"public-key\"", c.Type)
	}
	if c.ID == "" {
		c.warn("id is missing")
	}
	if c.RawID != nil && c.ID != base64.RawURLEncoding.EncodeToString(c.RawID) {
		c.warn("id is not the unpadded base64url of rawId")
	}
}

func (c *Credential) warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// credentialID is rawId, or id decoded when rawId is absent.
func (c *Credential) credentialID() []byte {
	if c.RawID != nil {
		return c.RawID
	}
	b, _ := credman.DecodeBase64(c.ID)
	return b
}

// clientDataHash returns SHA-256 of clientDataJSON, or nil without one.
func clientDataHash(r *Result) []byte {
	if r.ClientData == nil {
		return nil
	}
	h, err := hex.DecodeString(r.ClientData.Hash)
	if err != nil || len(h) != sha256.Size {
		return nil
	}
	return h
}
