package decode

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/passkeyd/passkeyd/credman"
)

// ClientData is a decoded clientDataJSON (WebAuthn §5.8.1
// CollectedClientData).
type ClientData struct {
	Type               string `json:"type"`
	Challenge          string `json:"challenge"`                    // as written
	ChallengeLength    int    `json:"challengeLength"`              // bytes, once decoded
	ChallengeText      string `json:"challengeText,omitempty"`      // the bytes, when they are printable text
	Origin             string `json:"origin"`                       //
	CrossOrigin        *bool  `json:"crossOrigin,omitempty"`        //
	TopOrigin          string `json:"topOrigin,omitempty"`          //
	AndroidPackageName string `json:"androidPackageName,omitempty"` //
	// Other holds members this package does not interpret (extraData,
	// tokenBinding, …), as written.
	Other    map[string]json.RawMessage `json:"other,omitempty"`
	Hash     string                     `json:"hash"` // hex SHA-256: the clientDataHash the authenticator signed
	Warnings []string                   `json:"warnings,omitempty"`
}

// clientDataKnown are the members ClientData interprets.
var clientDataKnown = map[string]bool{"type": true, "challenge": true, "origin": true,
	"crossOrigin": true, "topOrigin": true, "androidPackageName": true}

// clientData decodes clientDataJSON bytes. where names the part in errors.
func clientData(b []byte, where string) (*ClientData, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", where, err)
	}
	h := sha256.Sum256(b)
	c := &ClientData{Hash: hex.EncodeToString(h[:])}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"type", &c.Type}, {"challenge", &c.Challenge}, {"origin", &c.Origin},
		{"topOrigin", &c.TopOrigin}, {"androidPackageName", &c.AndroidPackageName}} {
		if err := stringMember(m, f.name, f.dst); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
	}
	if err := c.crossOrigin(m); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	c.other(m)
	c.check(b)
	return c, nil
}

// stringMember copies m[name] into dst when present; it must be a string.
func stringMember(m map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s is %s, not a string", name, raw)
	}
	return nil
}

func (c *ClientData) crossOrigin(m map[string]json.RawMessage) error {
	raw, ok := m["crossOrigin"]
	if !ok {
		return nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("crossOrigin is %s, not true or false", raw)
	}
	c.CrossOrigin = &v
	return nil
}

func (c *ClientData) other(m map[string]json.RawMessage) {
	for k, v := range m {
		if !clientDataKnown[k] {
			if c.Other == nil {
				c.Other = map[string]json.RawMessage{}
			}
			c.Other[k] = v
		}
	}
}

// OtherNames returns the names of the uninterpreted members, sorted.
func (c *ClientData) OtherNames() []string {
	names := make([]string, 0, len(c.Other))
	for k := range c.Other {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (c *ClientData) warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// check notes what a relying party would refuse (WebAuthn §7.1 steps 7–10,
// §7.2 steps 10–13).
func (c *ClientData) check(raw []byte) {
	if c.Type != "webauthn.create" && c.Type != "webauthn.get" {
		c.warn("type %q is neither \"webauthn.create\" nor \"webauthn.get\"", c.Type)
	}
	c.checkChallenge()
	c.checkOrigin()
	if c.TopOrigin != "" && (c.CrossOrigin == nil || !*c.CrossOrigin) {
		c.warn("topOrigin is set but crossOrigin is not true")
	}
	if !bytes.HasPrefix(raw, []byte(`{"type":`)) {
		c.warn("clientDataJSON does not start with {\"type\": as browsers serialize it; servers that match it as a template (WebAuthn §5.8.1.2) will not")
	}
}

func (c *ClientData) checkChallenge() {
	if c.Challenge == "" {
		c.warn("challenge is missing or empty")
		return
	}
	if strings.ContainsAny(c.Challenge, "+/=") {
		c.warn("challenge is not unpadded base64url, as clientDataJSON must carry it")
	}
	b, err := credman.DecodeBase64(c.Challenge)
	if err != nil {
		c.warn("challenge is not base64url: %v", err)
		return
	}
	c.ChallengeLength = len(b)
	if len(b) < 16 {
		c.warn("challenge is %d bytes; relying parties should use at least 16 random bytes (WebAuthn §13.4.3)", len(b))
	}
	if printable(b) {
		c.ChallengeText = string(b)
	}
}

func (c *ClientData) checkOrigin() {
	if c.Origin == "" {
		c.warn("origin is missing or empty")
		return
	}
	if strings.HasPrefix(c.Origin, "android:apk-key-hash:") {
		return
	}
	u, err := url.Parse(c.Origin)
	if err != nil || u.Host == "" {
		c.warn("origin %q is not scheme://host[:port]", c.Origin)
		return
	}
	host := u.Hostname()
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		c.warn("origin %q is not https (nor http://localhost): browsers do not offer WebAuthn there", c.Origin)
	}
	if u.Path != "" && u.Path != "/" {
		c.warn("origin %q has a path; an origin is scheme://host[:port] only", c.Origin)
	}
}

// originHost returns the host of an https or http origin, or "".
func originHost(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// printable reports whether b is UTF-8 text without control characters.
func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
