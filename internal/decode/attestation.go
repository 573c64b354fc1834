package decode

import (
	"fmt"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// Attestation is a decoded attestationObject (WebAuthn §6.5.4).
type Attestation struct {
	Fmt       string     `json:"fmt"`
	Statement *Statement `json:"attStmt"`
	AuthData  *AuthData  `json:"authData"`
	Warnings  []string   `json:"warnings,omitempty"`
}

// Statement is a decoded attStmt: the members of every format WebAuthn §8
// defines, each set when present.
type Statement struct {
	Alg        *int          `json:"alg,omitempty"`
	AlgName    string        `json:"algName,omitempty"`
	Sig        *Signature    `json:"sig,omitempty"`
	X5C        []Certificate `json:"x5c,omitempty"`
	Ver        string        `json:"ver,omitempty"`      // tpm
	CertInfo   *TPMCertInfo  `json:"certInfo,omitempty"` // tpm
	PubArea    *TPMPubArea   `json:"pubArea,omitempty"`  // tpm
	EcdaaKeyID []byte        `json:"ecdaaKeyId,omitempty"`
	Other      []string      `json:"other,omitempty"` // names of members not known here
	// Type is the attestation type the statement shows: "self", "basic or
	// AttCA (x5c)", "none", …
	Type string `json:"type,omitempty"`
}

// attestationObject decodes an attestationObject. where names the part in
// errors.
func (d *decoder) attestationObject(b []byte, where string) (*Attestation, error) {
	var m map[string]cbor.RawMessage
	if err := unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	att := &Attestation{}
	var raw []byte
	if err := requireMember(m, "fmt", &att.Fmt); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	if err := requireMember(m, "authData", &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	if _, ok := m["attStmt"]; !ok {
		return nil, fmt.Errorf("%s: attStmt is missing", where)
	}
	for k := range m {
		if k != "fmt" && k != "authData" && k != "attStmt" {
			att.warn("unknown member %q", k)
		}
	}
	ad, err := d.authData(raw, where+".authData")
	if err != nil {
		return nil, err
	}
	att.AuthData = ad
	if att.Statement, err = parseStatement(m["attStmt"], att.Fmt); err != nil {
		return nil, fmt.Errorf("%s.attStmt: %v", where, err)
	}
	att.check()
	return att, nil
}

// requireMember decodes m[name] into dst; it must be present.
func requireMember(m map[string]cbor.RawMessage, name string, dst any) error {
	raw, ok := m[name]
	if !ok {
		return fmt.Errorf("%s is missing", name)
	}
	if err := unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// optionalMember decodes m[name] into dst when present.
func optionalMember(m map[string]cbor.RawMessage, name string, dst any) (bool, error) {
	raw, ok := m[name]
	if !ok {
		return false, nil
	}
	if err := unmarshal(raw, dst); err != nil {
		return true, fmt.Errorf("%s: %v", name, err)
	}
	return true, nil
}

// stmtKnown are the attStmt members Statement interprets.
var stmtKnown = map[string]bool{"alg": true, "sig": true, "x5c": true, "ver": true,
	"certInfo": true, "pubArea": true, "ecdaaKeyId": true}

// parseStatement decodes attStmt as a map of the members WebAuthn §8 uses.
func parseStatement(raw cbor.RawMessage, format string) (*Statement, error) {
	var m map[string]cbor.RawMessage
	if err := unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a map with text keys: %v", err)
	}
	s := &Statement{}
	if err := s.alg(m); err != nil {
		return nil, err
	}
	if err := s.sig(m); err != nil {
		return nil, err
	}
	if err := s.x5c(m); err != nil {
		return nil, err
	}
	if err := s.tpm(m); err != nil {
		return nil, err
	}
	if _, err := optionalMember(m, "ecdaaKeyId", &s.EcdaaKeyID); err != nil {
		return nil, err
	}
	for k := range m {
		if !stmtKnown[k] {
			s.Other = append(s.Other, k)
		}
	}
	sort.Strings(s.Other)
	return s, nil
}

func (s *Statement) alg(m map[string]cbor.RawMessage) error {
	var alg int
	ok, err := optionalMember(m, "alg", &alg)
	if ok && err == nil {
		s.Alg, s.AlgName = &alg, AlgNames[alg]
	}
	return err
}

func (s *Statement) sig(m map[string]cbor.RawMessage) error {
	var sig []byte
	ok, err := optionalMember(m, "sig", &sig)
	if ok && err == nil {
		alg := 0
		if s.Alg != nil {
			alg = *s.Alg
		}
		s.Sig = parseSignature(sig, alg)
	}
	return err
}

func (s *Statement) x5c(m map[string]cbor.RawMessage) error {
	var chain [][]byte
	ok, err := optionalMember(m, "x5c", &chain)
	if !ok || err != nil {
		return err
	}
	if len(chain) == 0 {
		return fmt.Errorf("x5c is an empty array")
	}
	for i, der := range chain {
		s.X5C = append(s.X5C, parseCertificate(der, i))
	}
	return nil
}

func (a *Attestation) warn(format string, args ...any) {
	a.Warnings = append(a.Warnings, fmt.Sprintf(format, args...))
}

// check applies each format's rules on which members must be present
// (WebAuthn §8.2–§8.8) and how the statement relates to authData.
func (a *Attestation) check() {
	s := a.Statement
	a.checkMembers()
	if a.AuthData.Attested == nil {
		a.warn("authData has no attested credential data (AT flag clear); a registration must carry it")
	}
	switch {
	case a.Fmt == "none":
		s.Type = "none"
	case len(s.X5C) > 0:
		s.Type = "basic or AttCA (x5c)"
		a.checkLeafAAGUID()
	case a.Fmt == "packed" && s.Sig != nil:
		s.Type = "self"
		a.checkSelfAlg()
	}
	if a.Fmt == "tpm" {
		a.checkTPM()
	}
}

// checkTPM checks the fixed values of a tpm statement (WebAuthn §8.3.2).
func (a *Attestation) checkTPM() {
	s := a.Statement
	if s.Ver != "" && s.Ver != "2.0" {
		a.warn("tpm attestation ver is %q, not \"2.0\"", s.Ver)
	}
	if c := s.CertInfo; c != nil && c.Error == "" {
		if c.Magic != "ff544347" {
			a.warn("certInfo magic is %s, not TPM_GENERATED_VALUE (ff544347)", c.Magic)
		}
		if c.Type != "8017" {
			a.warn("certInfo type is %s, not TPM_ST_ATTEST_CERTIFY (8017)", c.Type)
		}
	}
}

// formatMembers lists, per format, the attStmt members it requires and
// allows (WebAuthn §8).
var formatMembers = map[string]struct{ required, allowed []string }{
	"none":              {nil, nil},
	"packed":            {[]string{"alg", "sig"}, []string{"x5c"}},
	"tpm":               {[]string{"ver", "alg", "x5c", "sig", "certInfo", "pubArea"}, nil},
	"android-key":       {[]string{"alg", "sig", "x5c"}, nil},
	"android-safetynet": {[]string{"ver", "response"}, nil},
	"fido-u2f":          {[]string{"sig", "x5c"}, nil},
	"apple":             {[]string{"x5c"}, nil},
	"compound":          {nil, nil},
}

func (a *Attestation) checkMembers() {
	rule, ok := formatMembers[a.Fmt]
	if !ok {
		a.warn("fmt %q is not an attestation statement format WebAuthn defines", a.Fmt)
		return
	}
	present := a.Statement.present()
	for _, name := range rule.required {
		if !present[name] {
			a.warn("%s attestation needs attStmt.%s, which is missing", a.Fmt, name)
		}
		delete(present, name)
	}
	for _, name := range rule.allowed {
		delete(present, name)
	}
	if a.Fmt == "compound" || a.Fmt == "android-safetynet" {
		return
	}
	for name := range present {
		a.warn("attStmt.%s is not part of %s attestation", name, a.Fmt)
	}
}

// present names the members the statement had.
func (s *Statement) present() map[string]bool {
	p := map[string]bool{"alg": s.Alg != nil, "sig": s.Sig != nil, "x5c": s.X5C != nil,
		"ver": s.Ver != "", "certInfo": s.CertInfo != nil, "pubArea": s.PubArea != nil, "ecdaaKeyId": s.EcdaaKeyID != nil}
	for k, v := range p {
		if !v {
			delete(p, k)
		}
	}
	for _, k := range s.Other {
		p[k] = true
	}
	return p
}

// checkSelfAlg: self attestation signs with the credential key, so its alg
// must be the key's (WebAuthn §8.2.2).
func (a *Attestation) checkSelfAlg() {
	at, s := a.AuthData.Attested, a.Statement
	if at == nil || s.Alg == nil || at.PublicKey.Alg == nil {
		return
	}
	if *s.Alg != *at.PublicKey.Alg {
		a.warn("self attestation alg %d differs from the credential key's alg %d", *s.Alg, *at.PublicKey.Alg)
	}
}

// checkLeafAAGUID compares the leaf certificate's id-fido-gen-ce-aaguid with
// authData's AAGUID (WebAuthn §8.2.1: they must be equal when present).
func (a *Attestation) checkLeafAAGUID() {
	leaf := &a.Statement.X5C[0]
	if leaf.AAGUID == "" || a.AuthData.Attested == nil {
		return
	}
	match := leaf.AAGUID == a.AuthData.Attested.AAGUID
	leaf.AAGUIDMatchesAuthData = &match
	if !match {
		a.warn("the attestation certificate's AAGUID %s differs from authData's %s", leaf.AAGUID, a.AuthData.Attested.AAGUID)
	}
}
