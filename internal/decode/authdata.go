package decode

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/passkeyd/passkeyd/credman"
)

// AuthData is a decoded authenticatorData (WebAuthn §6.1).
type AuthData struct {
	Length    int    `json:"length"`
	RPIDHash  string `json:"rpIdHash"`       // hex
	RPID      string `json:"rpId,omitempty"` // the relying party ID whose SHA-256 it is, when one matched
	Flags     Flags  `json:"flags"`
	SignCount uint32 `json:"signCount"`
	// Attested is the attested credential data, present iff the AT flag is.
	Attested *AttestedCredential `json:"attestedCredentialData,omitempty"`
	// Extensions are the authenticator extension outputs, present iff the ED
	// flag is.
	Extensions []Extension `json:"extensions,omitempty"`
	Warnings   []string    `json:"warnings,omitempty"`

	raw []byte
}

// Flags is the flags byte, spelled out (WebAuthn §6.1 "flags").
type Flags struct {
	Value byte  `json:"value"`
	UP    bool  `json:"up"` // user present
	UV    bool  `json:"uv"` // user verified
	BE    bool  `json:"be"` // backup eligible
	BS    bool  `json:"bs"` // backed up (backup state)
	AT    bool  `json:"at"` // attested credential data included
	ED    bool  `json:"ed"` // extension data included
	RFU   []int `json:"rfu,omitempty"`
}

// String spells the set flags, e.g. "UP|UV|AT".
func (f Flags) String() string {
	var names []string
	for _, n := range FlagNames {
		if f.Value&n.Bit != 0 {
			names = append(names, n.Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// FlagNames names each bit of the flags byte, in bit order; RFU bits are
// reserved and must be zero.
var FlagNames = []struct {
	Bit         byte
	Name, Means string
}{
	{0x01, "UP", "user present"}, {0x02, "RFU1", "reserved (bit 1)"}, {0x04, "UV", "user verified"},
	{0x08, "BE", "backup eligible"}, {0x10, "BS", "backed up"}, {0x20, "RFU2", "reserved (bit 5)"},
	{0x40, "AT", "attested credential data"}, {0x80, "ED", "extension data"},
}

func parseFlags(b byte) Flags {
	f := Flags{Value: b, UP: b&0x01 != 0, UV: b&0x04 != 0, BE: b&0x08 != 0, BS: b&0x10 != 0,
		AT: b&0x40 != 0, ED: b&0x80 != 0}
	for _, bit := range []int{1, 5} {
		if b&(1<<bit) != 0 {
			f.RFU = append(f.RFU, bit)
		}
	}
	return f
}

// AttestedCredential is attested credential data (WebAuthn §6.5.2).
type AttestedCredential struct {
	AAGUID             string        `json:"aaguid"`               // as a UUID
	AAGUIDName         string        `json:"aaguidName,omitempty"` // the provider, when known
	CredentialID       credman.Bytes `json:"credentialId"`
	CredentialIDLength int           `json:"credentialIdLength"`
	PublicKey          *COSEKey      `json:"credentialPublicKey"`
}

// Offsets in authenticatorData (WebAuthn §6.1, §6.5.2).
const (
	adFlags      = 32
	adCounter    = 33
	adAttested   = 37
	adCredID     = 55
	maxCredIDLen = 1023
)

// authData decodes authenticatorData. where names the part in errors.
func (d *decoder) authData(b []byte, where string) (*AuthData, error) {
	ad, err := parseAuthData(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	ad.matchRPID(d.rpIDCandidates())
	if len(d.opts.RPIDs) > 0 && !slices.Contains(d.opts.RPIDs, ad.RPID) {
		ad.warn("rpIdHash is not the SHA-256 of %s", quoteList(d.opts.RPIDs))
	}
	return ad, nil
}

// parseAuthData walks authenticatorData, naming the byte where it breaks.
func parseAuthData(b []byte) (*AuthData, error) {
	if len(b) < adAttested {
		return nil, fmt.Errorf("%d bytes, shorter than the 37 of rpIdHash, flags and signCount", len(b))
	}
	ad := &AuthData{raw: b, Length: len(b), RPIDHash: hex.EncodeToString(b[:adFlags]),
		Flags: parseFlags(b[adFlags]), SignCount: binary.BigEndian.Uint32(b[adCounter:adAttested])}
	off := adAttested
	var err error
	if ad.Flags.AT {
		if off, err = ad.parseAttested(b); err != nil {
			return nil, err
		}
	}
	if ad.Flags.ED {
		if off, err = ad.parseExtensions(b, off); err != nil {
			return nil, err
		}
	}
	if off != len(b) {
		return nil, fmt.Errorf("%s at byte %d: the flags (%s) announce nothing more; is the AT or ED flag missing?", plural(len(b)-off, "unexpected byte"), off, ad.Flags)
	}
	ad.checkFlags()
	return ad, nil
}

// parseAttested reads attested credential data at byte 37 and returns the
// offset after it.
func (ad *AuthData) parseAttested(b []byte) (int, error) {
	if len(b) < adCredID {
		return 0, fmt.Errorf("AT flag set but attested credential data is truncated at byte %d (AAGUID and credentialIdLength need bytes 37–54)", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[adCredID-2 : adCredID]))
	end := adCredID + n
	if end > len(b) {
		return 0, fmt.Errorf("AT flag set but attested credential data is truncated at byte %d: credentialIdLength %d needs bytes 55–%d", len(b), n, end-1)
	}
	if n > maxCredIDLen {
		ad.warn("credentialIdLength is %d; WebAuthn allows at most 1023", n)
	}
	if end == len(b) {
		return 0, fmt.Errorf("AT flag set but the credential public key is missing at byte %d", end)
	}
	klen, err := itemLen(b[end:])
	if errors.Is(err, errTruncated) {
		return 0, fmt.Errorf("credential public key at byte %d is truncated at byte %d", end, len(b))
	}
	if err != nil {
		return 0, fmt.Errorf("credential public key at byte %d: %v", end, err)
	}
	key, err := parseCOSEKey(b[end : end+klen])
	if err != nil {
		return 0, fmt.Errorf("credential public key at byte %d: %v", end, err)
	}
	ad.Attested = &AttestedCredential{AAGUID: formatUUID(b[adAttested : adCredID-2]),
		CredentialID: b[adCredID:end], CredentialIDLength: n, PublicKey: key}
	ad.Attested.AAGUIDName = aaguidName(ad.Attested.AAGUID)
	return end + klen, nil
}

// parseExtensions reads the extensions map at off and returns the offset
// after it.
func (ad *AuthData) parseExtensions(b []byte, off int) (int, error) {
	if off == len(b) {
		return 0, fmt.Errorf("ED flag set but the extensions are missing at byte %d", off)
	}
	n, err := itemLen(b[off:])
	if errors.Is(err, errTruncated) {
		return 0, fmt.Errorf("extensions at byte %d are truncated at byte %d", off, len(b))
	}
	if err != nil {
		return 0, fmt.Errorf("extensions at byte %d: %v", off, err)
	}
	exts, err := parseExtensions(b[off : off+n])
	if err != nil {
		return 0, fmt.Errorf("extensions at byte %d: %v", off, err)
	}
	ad.Extensions = exts
	return off + n, nil
}

// checkFlags notes flag combinations a relying party refuses.
func (ad *AuthData) checkFlags() {
	f := ad.Flags
	for _, bit := range f.RFU {
		ad.warn("reserved flag bit %d (RFU) is set; it must be 0", bit)
	}
	if f.BS && !f.BE {
		ad.warn("BS (backed up) is set without BE (backup eligible), which is invalid (WebAuthn §6.1.3)")
	}
	if !f.UP {
		ad.warn("UP (user present) is not set; relying parties require it unless they asked for no user presence")
	}
}

// matchRPID names the candidate whose SHA-256 is the rpIdHash.
func (ad *AuthData) matchRPID(candidates []string) {
	for _, id := range candidates {
		h := sha256.Sum256([]byte(id))
		if hex.EncodeToString(h[:]) == ad.RPIDHash {
			ad.RPID = id
			return
		}
	}
}

func (ad *AuthData) warn(format string, args ...any) {
	ad.Warnings = append(ad.Warnings, fmt.Sprintf(format, args...))
}

// commonRPIDs are tried after the given ones and the origin's, so that the
// usual test setups are named without a flag.
var commonRPIDs = []string{"localhost", "example.com", "example.org", "webauthn.io"}

// rpIDCandidates lists relying party IDs to test an rpIdHash against: those
// given, the origin's host and its parent domains, then common ones.
func (d *decoder) rpIDCandidates() []string {
	c := append([]string(nil), d.opts.RPIDs...)
	host := originHost(d.origin)
	for host != "" {
		c = append(c, host)
		_, parent, ok := strings.Cut(host, ".")
		if !ok || !strings.Contains(parent, ".") {
			break
		}
		host = parent
	}
	return append(c, commonRPIDs...)
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " or ")
}

// plural writes "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
