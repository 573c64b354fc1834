package ctap

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Flags is the flags byte of authenticatorData (WebAuthn §6.1).
type Flags byte

// Flag bits, WebAuthn §6.1 "Authenticator Data".
const (
	FlagUP Flags = 1 << 0 // user present
	FlagUV Flags = 1 << 2 // user verified
	FlagBE Flags = 1 << 3 // backup eligible
	FlagBS Flags = 1 << 4 // backup state
	FlagAT Flags = 1 << 6 // attested credential data included
	FlagED Flags = 1 << 7 // extension data included
)

// Has reports whether every bit of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// String spells the set flags, e.g. "UP|UV|AT".
func (f Flags) String() string {
	names := []struct {
		f Flags
		n string
	}{{FlagUP, "UP"}, {1 << 1, "RFU1"}, {FlagUV, "UV"}, {FlagBE, "BE"}, {FlagBS, "BS"}, {1 << 5, "RFU2"}, {FlagAT, "AT"}, {FlagED, "ED"}}
	var b bytes.Buffer
	for _, n := range names {
		if f&n.f != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n.n)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// AttestedCredential is the attested credential data (WebAuthn §6.5.1).
type AttestedCredential struct {
	AAGUID       [16]byte
	CredentialID []byte
	PublicKey    cbor.RawMessage // COSE key, as encoded
}

// AuthData is authenticatorData (WebAuthn §6.1): rpIdHash(32) ‖ flags(1) ‖
// signCount(4, big-endian) ‖ [attested credential data] ‖ [extensions].
type AuthData struct {
	RPIDHash   [32]byte
	Flags      Flags
	Counter    uint32
	Attested   *AttestedCredential // present iff FlagAT
	Extensions cbor.RawMessage     // CBOR map, present iff FlagED
}

// Marshal encodes the authenticator data. AT and ED are derived from the
// presence of Attested and Extensions, whatever Flags says.
func (a *AuthData) Marshal() []byte {
	flags := a.Flags &^ (FlagAT | FlagED)
	size := 37
	if a.Attested != nil {
		flags |= FlagAT
		size += 18 + len(a.Attested.CredentialID) + len(a.Attested.PublicKey)
	}
	if len(a.Extensions) > 0 {
		flags |= FlagED
		size += len(a.Extensions)
	}
	b := make([]byte, 0, size)
	b = append(b, a.RPIDHash[:]...)
	b = append(b, byte(flags))
	b = binary.BigEndian.AppendUint32(b, a.Counter)
	if a.Attested != nil {
		b = append(b, a.Attested.AAGUID[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Attested.CredentialID)))
		b = append(b, a.Attested.CredentialID...)
		b = append(b, a.Attested.PublicKey...)
	}
	return append(b, a.Extensions...)
}

// ParseAuthData decodes authenticator data strictly: the AT and ED flags must
// match what follows, and nothing may trail.
func ParseAuthData(b []byte) (*AuthData, error) {
	if len(b) < 37 {
		return nil, fmt.Errorf("ctap: authenticatorData is %d bytes, shorter than 37", len(b))
	}
	a := &AuthData{Flags: Flags(b[32]), Counter: binary.BigEndian.Uint32(b[33:37])}
	copy(a.RPIDHash[:], b[:32])
	rest := b[37:]
	if a.Flags.Has(FlagAT) {
		var err error
		if a.Attested, rest, err = parseAttested(rest); err != nil {
			return nil, err
		}
	}
	if a.Flags.Has(FlagED) {
		n, err := cborItemLen(rest)
		if err != nil {
			return nil, fmt.Errorf("ctap: authenticatorData extensions: %w", err)
		}
		a.Extensions, rest = cbor.RawMessage(rest[:n]), rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ctap: authenticatorData has %d trailing bytes", len(rest))
	}
	return a, nil
}

func parseAttested(b []byte) (*AttestedCredential, []byte, error) {
	if len(b) < 18 {
		return nil, nil, fmt.Errorf("ctap: attested credential data is truncated")
	}
	at := &AttestedCredential{}
	copy(at.AAGUID[:], b[:16])
	idLen := int(binary.BigEndian.Uint16(b[16:18]))
	b = b[18:]
	if idLen > len(b) || idLen > 1023 {
		return nil, nil, fmt.Errorf("ctap: credential ID length %d is invalid", idLen)
	}
	at.CredentialID, b = b[:idLen], b[idLen:]
	n, err := cborItemLen(b)
	if err != nil {
		return nil, nil, fmt.Errorf("ctap: credential public key: %w", err)
	}
	at.PublicKey = cbor.RawMessage(b[:n])
	return at, b[n:], nil
}

// cborItemLen returns the length of the one well-formed CBOR item at the
// start of b (authenticatorData concatenates items without framing).
func cborItemLen(b []byte) (int, error) {
	var raw cbor.RawMessage
	rest, err := decMode.UnmarshalFirst(b, &raw)
	if err != nil {
		return 0, err
	}
	return len(b) - len(rest), nil
}
