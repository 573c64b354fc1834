package ctap

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// authenticatorGetAssertion is the command a daemon under load answers most,
// and reflection in the generic CBOR code costs more than the rest of its
// parsing. This file reads and writes its two messages by hand, for the
// shapes real clients send, and hands everything else to [Unmarshal] and
// [Marshal]: the fast path only has to be right about what it accepts.

// The strict decode mode's limits (cbor.go); TestFastGALimits keeps them in
// step. A request within them nests at most 4 deep (request map, allowList,
// descriptor, transports), which [MaxNesting] allows.
const (
	maxArrayElements = 1024
	maxMapPairs      = 256
)

// CBOR major types (RFC 8949 §3.1).
const (
	majorUint  = 0
	majorNeg   = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

const (
	cborFalse = 0xf4
	cborTrue  = 0xf5
	cborNull  = 0xf6
)

// DecodeGetAssertionRequest decodes the parameters of authenticatorGetAssertion
// (CTAP 2.1 §6.2). It returns what Unmarshal into a new [GetAssertionRequest]
// returns, for every input: the same request, the same status on error
// (with the request as the generic decoder left it, not to be used).
// Common requests are read without reflection; byte strings are copies,
// never aliases of data.
func DecodeGetAssertionRequest(data []byte) (*GetAssertionRequest, error) {
	if req, ok := decodeGetAssertionFast(data); ok {
		return req, nil
	}
	req := new(GetAssertionRequest)
	return req, Unmarshal(data, req)
}

// decodeGetAssertionFast decodes a request of keys 1, 2, 3, 5, 6 and 7 in
// any order, with the types CTAP gives them. It reports false for anything
// else, valid or not: extensions, unknown keys, nulls, duplicate keys, a
// descriptor key not spelled exactly as in the struct tag (fxamacker also
// matches "ID" or "Type"), invalid UTF-8, indefinite lengths, tags,
// trailing bytes, truncation.
func decodeGetAssertionFast(data []byte) (*GetAssertionRequest, bool) {
	// One copy backs every byte string of the request.
	r := &gaReader{data: bytes.Clone(data)}
	n, ok := r.count(majorMap)
	if !ok {
		return nil, false
	}
	req := new(GetAssertionRequest)
	var seen uint8
	for range n {
		key, ok := r.expect(majorUint)
		if !ok || key == 0 || key == 4 || key > 7 || seen&(1<<key) != 0 {
			return nil, false
		}
		seen |= 1 << key
		if !r.field(req, key) {
			return nil, false
		}
	}
	return req, r.off == len(r.data)
}

// gaReader reads the CBOR items of a GetAssertion request from data. Each
// method reports false, with the offset left anywhere, when the next item is
// not the one asked for or not in a shape the fast path knows.
type gaReader struct {
	data []byte
	off  int
}

// field reads the value of the request's map key.
func (r *gaReader) field(req *GetAssertionRequest, key uint64) (ok bool) {
	switch key {
	case 1:
		req.RPID, ok = r.text()
	case 2:
		req.ClientDataHash, ok = r.byteString()
	case 3:
		req.AllowList, ok = r.allowList()
	case 5:
		req.Options, ok = r.options()
	case 6:
		req.PinUvAuthParam, ok = r.byteString()
	case 7:
		req.PinUvAuthProtocol, ok = r.unsigned()
	}
	return ok
}

// allowList reads an array of credential descriptors. An empty array is an
// empty, non-nil slice, as the generic decoder makes it.
func (r *gaReader) allowList() ([]CredentialDescriptor, bool) {
	n, ok := r.count(majorArray)
	if !ok {
		return nil, false
	}
	list := make([]CredentialDescriptor, n)
	for i := range list {
		if !r.descriptor(&list[i]) {
			return nil, false
		}
	}
	return list, true
}

// descriptor reads a PublicKeyCredentialDescriptor map of "type", "id" and
// optionally "transports".
func (r *gaReader) descriptor(d *CredentialDescriptor) bool {
	n, ok := r.count(majorMap)
	if !ok || n > 3 {
		return false
	}
	var seen uint8
	for range n {
		key, ok := r.str(majorText)
		if !ok {
			return false
		}
		var bit uint8
		switch string(key) {
		case "type":
			bit = 1
			d.Type, ok = r.text()
		case "id":
			bit = 2
			d.ID, ok = r.byteString()
		case "transports":
			bit = 4
			d.Transports, ok = r.transports()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

// transports reads an array of text strings.
func (r *gaReader) transports() ([]string, bool) {
	n, ok := r.count(majorArray)
	if !ok {
		return nil, false
	}
	list := make([]string, n)
	for i := range list {
		if list[i], ok = r.text(); !ok {
			return nil, false
		}
	}
	return list, true
}

// options reads a map of text to bool. Values other than true and false
// (null gives false in the generic decoder) are left to it.
func (r *gaReader) options() (map[string]bool, bool) {
	n, ok := r.count(majorMap)
	if !ok {
		return nil, false
	}
	opts := make(map[string]bool, n)
	for range n {
		key, ok := r.text()
		if !ok || r.off == len(r.data) {
			return nil, false
		}
		if _, dup := opts[key]; dup {
			return nil, false
		}
		switch r.data[r.off] {
		case cborFalse:
			opts[key] = false
		case cborTrue:
			opts[key] = true
		default:
			return nil, false
		}
		r.off++
	}
	return opts, true
}

// count reads the head of an array or map and returns its number of
// elements, within the strict mode's limits and the bytes left (each
// element takes at least one), so that it is safe to allocate for.
func (r *gaReader) count(major byte) (int, bool) {
	n, ok := r.expect(major)
	limit := uint64(maxArrayElements)
	if major == majorMap {
		limit = maxMapPairs
	}
	if !ok || n > limit || n > uint64(len(r.data)-r.off) {
		return 0, false
	}
	return int(n), true
}

// byteString reads a byte string. The slice's capacity ends with it, so
// that an append by the caller cannot write over the next field.
func (r *gaReader) byteString() ([]byte, bool) {
	b, ok := r.str(majorBytes)
	return b[:len(b):len(b)], ok
}

// text reads a text string, refusing invalid UTF-8 as the strict mode
// does. The strings requests repeat cost no allocation.
func (r *gaReader) text() (string, bool) {
	b, ok := r.str(majorText)
	if !ok || !utf8.Valid(b) {
		return "", false
	}
	if s, ok := knownText[string(b)]; ok {
		return s, true
	}
	return string(b), true
}

// knownText are the strings requests repeat: type, transports (WebAuthn
// §5.8.4) and options.
var knownText = map[string]string{PublicKeyType: PublicKeyType,
	"usb": "usb", "nfc": "nfc", "ble": "ble", "internal": "internal", "hybrid": "hybrid",
	"up": "up", "uv": "uv", "rk": "rk"}

// unsigned reads an unsigned integer that fits a uint.
func (r *gaReader) unsigned() (uint, bool) {
	v, ok := r.expect(majorUint)
	return uint(v), ok && uint64(uint(v)) == v
}

// str reads a definite-length byte or text string.
func (r *gaReader) str(major byte) ([]byte, bool) {
	n, ok := r.expect(major)
	if !ok || n > uint64(len(r.data)-r.off) {
		return nil, false
	}
	b := r.data[r.off : r.off+int(n)]
	r.off += int(n)
	return b, true
}

// expect reads the head of an item of the given major type and returns its
// argument, in any of the encodings RFC 8949 §3 allows, minimal or not.
// Indefinite lengths and reserved values report false.
func (r *gaReader) expect(major byte) (uint64, bool) {
	if r.off == len(r.data) || r.data[r.off]>>5 != major {
		return 0, false
	}
	ai := r.data[r.off] & 0x1f
	r.off++
	if ai < 24 {
		return uint64(ai), true
	}
	if ai > 27 {
		return 0, false
	}
	size := 1 << (ai - 24)
	if len(r.data)-r.off < size {
		return 0, false
	}
	var v uint64
	for _, c := range r.data[r.off : r.off+size] {
		v = v<<8 | uint64(c)
	}
	r.off += size
	return v, true
}

// AppendGetAssertionResponse appends the CTAP2 canonical encoding of r
// (CTAP 2.1 §6.2.2), byte for byte what [Marshal] gives, to dst. A nil r
// is left to Marshal.
func AppendGetAssertionResponse(dst []byte, r *GetAssertionResponse) ([]byte, error) {
	if r == nil {
		b, err := Marshal(r)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	return appendGetAssertionFast(dst, r), nil
}

// appendGetAssertionFast writes the fields in key order, leaving out the
// empty ones that are tagged omitempty.
func appendGetAssertionFast(dst []byte, r *GetAssertionResponse) []byte {
	dst = growFor(dst, r)
	dst = appendHead(dst, majorMap, uint64(r.fieldCount()))
	if r.Credential != nil {
		dst = appendDescriptor(append(dst, 0x01), r.Credential)
	}
	dst = appendBytesOrNull(append(dst, 0x02), r.AuthData)
	dst = appendBytesOrNull(append(dst, 0x03), r.Signature)
	if r.User != nil {
		dst = appendUser(append(dst, 0x04), r.User)
	}
	if r.NumberOfCredentials != 0 {
		dst = appendInt(append(dst, 0x05), r.NumberOfCredentials)
	}
	if r.UserSelected {
		dst = append(dst, 0x06, cborTrue)
	}
	if len(r.LargeBlobKey) > 0 {
		dst = appendByteString(append(dst, 0x07), r.LargeBlobKey)
	}
	return dst
}

// fieldCount is the number of fields Marshal writes.
func (r *GetAssertionResponse) fieldCount() int {
	n := 2 // authData and signature are always there
	for _, present := range []bool{r.Credential != nil, r.User != nil, r.NumberOfCredentials != 0,
		r.UserSelected, len(r.LargeBlobKey) > 0} {
		if present {
			n++
		}
	}
	return n
}

// growFor makes room in dst for the response's bytes, so that it is
// written without copying as it grows.
func growFor(dst []byte, r *GetAssertionResponse) []byte {
	n := 64 + len(r.AuthData) + len(r.Signature) + len(r.LargeBlobKey)
	if c := r.Credential; c != nil {
		n += 32 + len(c.ID) + len(c.Type)
		for _, t := range c.Transports {
			n += 9 + len(t)
		}
	}
	if u := r.User; u != nil {
		n += 48 + len(u.ID) + len(u.Name) + len(u.DisplayName) + len(u.Icon)
	}
	return slices.Grow(dst, n)
}

// appendDescriptor writes a credential descriptor: its keys in CTAP2
// canonical order are "id", "type", "transports".
func appendDescriptor(dst []byte, c *CredentialDescriptor) []byte {
	n := uint64(2)
	if len(c.Transports) > 0 {
		n++
	}
	dst = appendHead(dst, majorMap, n)
	dst = appendBytesOrNull(append(dst, "\x62id"...), c.ID)
	dst = appendString(append(dst, "\x64type"...), c.Type)
	if len(c.Transports) > 0 {
		dst = append(dst, "\x6atransports"...)
		dst = appendHead(dst, majorArray, uint64(len(c.Transports)))
		for _, t := range c.Transports {
			dst = appendString(dst, t)
		}
	}
	return dst
}

// appendUser writes a user entity: its keys in CTAP2 canonical order are
// "id", "icon", "name", "displayName".
func appendUser(dst []byte, u *UserEntity) []byte {
	n := uint64(1)
	for _, s := range []string{u.Icon, u.Name, u.DisplayName} {
		if s != "" {
			n++
		}
	}
	dst = appendHead(dst, majorMap, n)
	dst = appendBytesOrNull(append(dst, "\x62id"...), u.ID)
	if u.Icon != "" {
		dst = appendString(append(dst, "\x64icon"...), u.Icon)
	}
	if u.Name != "" {
		dst = appendString(append(dst, "\x64name"...), u.Name)
	}
	if u.DisplayName != "" {
		dst = appendString(append(dst, "\x6bdisplayName"...), u.DisplayName)
	}
	return dst
}

// appendBytesOrNull writes a byte string; a nil slice is null, as Marshal
// writes a nil slice that is not omitempty.
func appendBytesOrNull(dst, b []byte) []byte {
	if b == nil {
		return append(dst, cborNull)
	}
	return appendByteString(dst, b)
}

// appendString writes a text string. Like Marshal, it does not check that s
// is valid UTF-8.
func appendString(dst []byte, s string) []byte {
	return append(appendHead(dst, majorText, uint64(len(s))), s...)
}

func appendByteString(dst, b []byte) []byte {
	return append(appendHead(dst, majorBytes, uint64(len(b))), b...)
}

func appendInt(dst []byte, i int) []byte {
	if i < 0 {
		return appendHead(dst, majorNeg, uint64(^i))
	}
	return appendHead(dst, majorUint, uint64(i))
}

// appendHead writes the head of an item in its shortest form, as CTAP2
// canonical CBOR requires (CTAP 2.1 §8).
func appendHead(dst []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(dst, m|byte(v))
	case v <= 0xff:
		return append(dst, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), v)
}
