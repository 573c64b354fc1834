package decode

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// registration decodes the parts of AuthenticatorAttestationResponseJSON
// (WebAuthn L3 §5.2.1) and checks they agree with each other.
func (d *decoder) registration(r *Result, resp map[string]json.RawMessage) error {
	b, err := base64Field(resp["attestationObject"], "response.attestationObject")
	if err != nil {
		return err
	}
	if r.Attestation, err = d.attestationObject(b, "response.attestationObject"); err != nil {
		return err
	}
	c, att := r.Credential, r.Attestation
	if err := c.registrationMembers(resp, att); err != nil {
		return err
	}
	if at := att.AuthData.Attested; at != nil && !bytes.Equal(at.CredentialID, c.credentialID()) {
		c.warn("rawId is not the credential ID in authData")
	}
	if r.ClientData != nil && r.ClientData.Type != "webauthn.create" {
		r.ClientData.Warnings = append(r.ClientData.Warnings, fmt.Sprintf("a registration's clientDataJSON type must be \"webauthn.create\", not %q", r.ClientData.Type))
	}
	checkAndroidChallenge(att, clientDataHash(r))
	return nil
}

// registrationMembers reads transports, publicKeyAlgorithm, publicKey and
// authenticatorData, which L3 JSON repeats outside the attestation object.
func (c *Credential) registrationMembers(resp map[string]json.RawMessage, att *Attestation) error {
	if raw, ok := resp["transports"]; ok && json.Unmarshal(raw, &c.Transports) != nil {
		return fmt.Errorf("response.transports is %s, not an array of strings", raw)
	}
	if raw, ok := resp["publicKeyAlgorithm"]; ok {
		var alg int
		if json.Unmarshal(raw, &alg) != nil {
			return fmt.Errorf("response.publicKeyAlgorithm is %s, not an integer", raw)
		}
		c.PublicKeyAlgorithm = &alg
	}
	key := att.AuthData.Attested
	if c.PublicKeyAlgorithm != nil && key != nil && key.PublicKey.Alg != nil && *key.PublicKey.Alg != *c.PublicKeyAlgorithm {
		c.warn("response.publicKeyAlgorithm %d differs from the credential key's alg %d", *c.PublicKeyAlgorithm, *key.PublicKey.Alg)
	}
	if err := c.publicKey(resp, key); err != nil {
		return err
	}
	if raw, ok := resp["authenticatorData"]; ok && string(raw) != "null" {
		ad, err := base64Field(raw, "response.authenticatorData")
		if err != nil {
			return err
		}
		if !bytes.Equal(ad, att.AuthData.raw) {
			c.warn("response.authenticatorData is not the authData inside attestationObject")
		}
	}
	return nil
}

// publicKey reads response.publicKey (SubjectPublicKeyInfo) and compares an
// ECDSA key with the COSE key in authData.
func (c *Credential) publicKey(resp map[string]json.RawMessage, key *AttestedCredential) error {
	raw, ok := resp["publicKey"]
	if !ok || string(raw) == "null" {
		return nil
	}
	spki, err := base64Field(raw, "response.publicKey")
	if err != nil {
		return err
	}
	c.PublicKeyLength = len(spki)
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		c.warn("response.publicKey is not a SubjectPublicKeyInfo: %v", err)
		return nil
	}
	ec, isEC := pub.(*ecdsa.PublicKey)
	if !isEC || key == nil || len(key.PublicKey.X) == 0 {
		return nil
	}
	point, err := ec.Bytes()
	want := append(append([]byte{4}, key.PublicKey.X...), key.PublicKey.Y...)
	if err != nil || !bytes.Equal(point, want) {
		c.warn("response.publicKey is not the credential public key in authData")
	}
	return nil
}

// checkAndroidChallenge: an android-key leaf's attestationChallenge must be
// the clientDataHash (WebAuthn §8.4.1).
func checkAndroidChallenge(att *Attestation, cdh []byte) {
	if cdh == nil || len(att.Statement.X5C) == 0 || att.Statement.X5C[0].AndroidKey == nil {
		return
	}
	k := att.Statement.X5C[0].AndroidKey
	match := bytes.Equal(k.Challenge, cdh)
	k.ChallengeMatches = &match
	if !match {
		att.warn("the Android key attestation challenge is not the SHA-256 of clientDataJSON")
	}
}

// authentication decodes the parts of AuthenticatorAssertionResponseJSON
// (WebAuthn L3 §5.2.2).
func (d *decoder) authentication(r *Result, resp map[string]json.RawMessage) error {
	raw, ok := resp["authenticatorData"]
	if !ok {
		return fmt.Errorf("response.authenticatorData is missing")
	}
	b, err := base64Field(raw, "response.authenticatorData")
	if err != nil {
		return err
	}
	if r.AuthData, err = d.authData(b, "response.authenticatorData"); err != nil {
		return err
	}
	if r.AuthData.Flags.AT {
		r.AuthData.warn("AT is set: an assertion's authenticatorData carries no attested credential data")
	}
	sig, err := base64Field(resp["signature"], "response.signature")
	if err != nil {
		return err
	}
	c := r.Credential
	c.Signature = parseSignature(sig, 0)
	if err := c.userHandle(resp); err != nil {
		return err
	}
	if r.ClientData != nil && r.ClientData.Type != "webauthn.get" {
		r.ClientData.Warnings = append(r.ClientData.Warnings, fmt.Sprintf("an authentication's clientDataJSON type must be \"webauthn.get\", not %q", r.ClientData.Type))
	}
	return nil
}

func (c *Credential) userHandle(resp map[string]json.RawMessage) error {
	raw, ok := resp["userHandle"]
	if !ok || string(raw) == "null" {
		return nil
	}
	b, err := base64Field(raw, "response.userHandle")
	if err != nil {
		return err
	}
	c.UserHandle = b
	if printable(b) && utf8.Valid(b) {
		c.UserHandleText = string(b)
	}
	if len(b) > 64 {
		c.warn("userHandle is %d bytes; WebAuthn allows at most 64", len(b))
	}
	return nil
}
