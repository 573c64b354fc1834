package decode

import (
	"bytes"
	"errors"
	"fmt"
)

// Kind is what an input turned out to be.
type Kind string

// The kinds of input [Decode] recognises.
const (
	KindClientData     Kind = "clientDataJSON"
	KindAuthData       Kind = "authenticatorData"
	KindAttestation    Kind = "attestationObject"
	KindRegistration   Kind = "RegistrationResponseJSON"
	KindAuthentication Kind = "AuthenticationResponseJSON"
)

// ErrEmpty is returned for an input that is empty or only white space.
var ErrEmpty = errors.New("no input")

// MaxInput is the largest input Decode accepts. Real responses are a few
// kilobytes; certificate chains keep them well under this.
const MaxInput = 1 << 20

// Options adjust a decoding.
type Options struct {
	// RPIDs are relying party IDs to test the rpIdHash against, in addition
	// to the origin's host (when clientDataJSON is known) and a few common
	// ones. When given and none matches, a warning says so.
	RPIDs []string
}

// Result is one decoded input. Which parts are set depends on Kind: a
// registration has ClientData and Attestation, an authentication has
// ClientData, AuthData and Credential.Signature.
type Result struct {
	Kind        Kind         `json:"kind"`
	Encoding    string       `json:"encoding"` // how the input was written: "JSON", "base64url", "hex", …
	Credential  *Credential  `json:"credential,omitempty"`
	ClientData  *ClientData  `json:"clientDataJSON,omitempty"`
	Attestation *Attestation `json:"attestationObject,omitempty"`
	AuthData    *AuthData    `json:"authenticatorData,omitempty"`
}

// Decode detects what input is and decodes it. The error, if any, is one
// line that names the part and, for binary data, the byte offset that could
// not be decoded.
func Decode(input []byte, opts Options) (*Result, error) {
	if len(input) > MaxInput {
		return nil, fmt.Errorf("input is %d bytes, more than the %d a WebAuthn response can be", len(input), MaxInput)
	}
	d := &decoder{opts: opts}
	if isBinary(input) {
		// Raw bytes are taken as they are: trimming "white space" would cut
		// a key that ends in 0x09.
		d.noteEncoding("raw bytes")
		return d.binary(input)
	}
	in := trimInput(input)
	if len(in) == 0 {
		return nil, ErrEmpty
	}
	return d.any(in, 0)
}

// decoder carries the options and what one part tells about another (the
// origin's host helps name the rpIdHash).
type decoder struct {
	opts    Options
	encoded string
	origin  string
}

// maxWrapping bounds how many layers of string-encoding and base64 an input
// may have: JSON in a string in base64 is the deepest real case.
const maxWrapping = 4

// any decodes in, whatever it is, unwrapping strings and text encodings.
func (d *decoder) any(in []byte, depth int) (*Result, error) {
	if depth > maxWrapping {
		return nil, errors.New("input is wrapped in too many layers of strings and base64")
	}
	switch {
	case in[0] == '{':
		return d.jsonObject(in)
	case in[0] == '"':
		s, err := jsonString(in)
		if err != nil {
			return nil, fmt.Errorf("input: %v", err)
		}
		d.noteEncoding("JSON string")
		return d.nonEmpty([]byte(s), depth)
	case isBinary(in):
		d.noteEncoding("raw bytes")
		return d.binary(in)
	}
	b, enc, err := decodeText(in)
	if err != nil {
		return nil, err
	}
	d.noteEncoding(enc)
	if t := trimInput(b); len(t) > 0 && t[0] == '{' {
		return d.any(t, depth+1)
	}
	return d.binary(b)
}

func (d *decoder) nonEmpty(in []byte, depth int) (*Result, error) {
	in = trimInput(in)
	if len(in) == 0 {
		return nil, errors.New("input: the JSON string is empty")
	}
	return d.any(in, depth+1)
}

// noteEncoding records one more layer, found inside the ones before:
// "JSON in base64url in JSON string".
func (d *decoder) noteEncoding(enc string) {
	if d.encoded == "" {
		d.encoded = enc
	} else {
		d.encoded = enc + " in " + d.encoded
	}
}

// binary decodes bytes that are either an attestationObject or an
// authenticatorData.
func (d *decoder) binary(b []byte) (*Result, error) {
	if looksLikeAttestationObject(b) {
		att, err := d.attestationObject(b, "attestationObject")
		if err != nil {
			return nil, err
		}
		return &Result{Kind: KindAttestation, Encoding: d.encoded, Attestation: att}, nil
	}
	ad, err := d.authData(b, "authenticatorData")
	if err != nil {
		return nil, err
	}
	return &Result{Kind: KindAuthData, Encoding: d.encoded, AuthData: ad}, nil
}

// looksLikeAttestationObject reports whether b starts as a CBOR map whose
// first key is one of the attestation object's. authenticatorData starts
// with a hash, which would have to begin with these exact bytes to be
// mistaken.
func looksLikeAttestationObject(b []byte) bool {
	if len(b) < 2 || b[0]>>5 != 5 {
		return false
	}
	for _, k := range []string{"\x63fmt", "\x67attStmt", "\x68authData"} {
		if bytes.HasPrefix(b[1:], []byte(k)) {
			return true
		}
	}
	return false
}
