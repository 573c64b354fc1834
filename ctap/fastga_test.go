package ctap

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// unhex decodes a hex vector written with spaces between its items.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// commonGARequests are GetAssertion requests as clients send them: every
// one must take the fast path.
func commonGARequests(tb testing.TB) map[string][]byte {
	tb.Helper()
	hash := bytes.Repeat([]byte{0xcd}, 32)
	id := bytes.Repeat([]byte{0x1d}, 64)
	desc := func(id byte, transports ...string) CredentialDescriptor {
		return CredentialDescriptor{Type: PublicKeyType, ID: bytes.Repeat([]byte{id}, 48), Transports: transports}
	}
	reqs := map[string]*GetAssertionRequest{
		// internal/bench: a known credential and uv, as a browser signs in
		"bench": {RPID: "rp3.bench.example", ClientDataHash: hash,
			AllowList: []CredentialDescriptor{{Type: PublicKeyType, ID: id}}, Options: map[string]bool{"uv": true}},
		// internal/bench startup and the provider tests: discoverable, uv
		"discoverable uv": {RPID: "example.com", ClientDataHash: hash, Options: map[string]bool{"uv": true}},
		"bare":            {RPID: "example.com", ClientDataHash: hash},
		"browser allowList": {RPID: "login.example.org", ClientDataHash: hash,
			AllowList: []CredentialDescriptor{desc(1, "usb", "nfc"), desc(2, "internal", "hybrid"), desc(3), desc(4, "ble", "smart-card")},
			Options:   map[string]bool{"uv": true}},
		"silent probe up false": {RPID: "example.com", ClientDataHash: hash,
			AllowList: []CredentialDescriptor{desc(5, "usb")}, Options: map[string]bool{"up": false}},
		// internal/ctapclient with a token: protocol 1 authenticates with
		// 16 bytes, protocol 2 with 32
		"pinUvAuth protocol 1": {RPID: "example.com", ClientDataHash: hash,
			PinUvAuthParam: bytes.Repeat([]byte{0xa1}, 16), PinUvAuthProtocol: 1},
		"pinUvAuth protocol 2": {RPID: "example.com", ClientDataHash: hash, AllowList: []CredentialDescriptor{desc(6)},
			Options: map[string]bool{"up": true}, PinUvAuthParam: bytes.Repeat([]byte{0xa2}, 32), PinUvAuthProtocol: 2},
		"many options": {RPID: "example.com", ClientDataHash: hash, Options: map[string]bool{"up": true, "uv": false, "rk": false, "ünicode": true}},
	}
	out := make(map[string][]byte, len(reqs)+5)
	for name, req := range reqs {
		out[name] = MustMarshal(req)
	}
	// Marshal leaves out empty values (omitempty), which decode as
	// non-nil and empty: {1: "a", 2: h'00', 6: h'', 7: 2}
	out["empty pinUvAuthParam probe"] = unhex(tb, `a4 01 61 61 02 41 00 06 40 07 02`)
	// {1: "a", 2: h'00', 3: [], 5: {}}
	out["empty allowList and options"] = unhex(tb, `a4 01 61 61 02 41 00 03 80 05 a0`)
	// {2: h'00', 1: "a", 5: {"uv": true}, 3: [{"type": "public-key", "id": h'01', "transports": ["usb"]}]}
	out["non-canonical key order"] = unhex(tb, `a4 02 41 00 01 61 61 05 a1 62 7576 f5
		03 81 a3 64 74797065 6a 7075626c69632d6b6579 62 6964 41 01 6a 7472616e73706f727473 81 63 757362`)
	// {1: "a", 7: 2} with every head in a longer form than needed
	out["non-minimal heads"] = unhex(tb, `b8 02 18 01 78 01 61 1b 00000000 00000007 19 0002`)
	// {3: [{"id": h'', "transports": []}]}: no type, empty id and transports
	out["sparse descriptor"] = unhex(tb, `a1 03 81 a2 62 6964 40 6a 7472616e73706f727473 80`)
	return out
}

// FuzzDecodeGetAssertionRequest: for any bytes, the fast decoder gives what
// the generic one gives.
func FuzzDecodeGetAssertionRequest(f *testing.F) {
	for _, b := range commonGARequests(f) {
		f.Add(b)
	}
	for _, c := range gaEdgeCases {
		f.Add(unhex(f, c.in))
	}
	f.Fuzz(checkDecodeAgrees)
}

// checkDecodeAgrees checks DecodeGetAssertionRequest against Unmarshal on
// data: the same request (down to nil against empty, and the capacity of
// byte slices), the same status, and no byte string aliasing data.
func checkDecodeAgrees(t *testing.T, data []byte) {
	want := new(GetAssertionRequest)
	wantErr := Unmarshal(data, want)
	in := bytes.Clone(data)
	got, err := DecodeGetAssertionRequest(in)
	for i := range in {
		in[i] = 0xaa
	}
	if StatusOf(err) != StatusOf(wantErr) {
		t.Fatalf("status %s, generic %s (%v)", StatusOf(err).Name(), StatusOf(wantErr).Name(), wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%#v\ngeneric\n%#v", got, want)
	}
	if g, w := byteCaps(got), byteCaps(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("byte slice capacities %v, generic %v", g, w)
	}
	if _, fast := decodeGetAssertionFast(data); fast && wantErr != nil {
		t.Fatalf("the fast path accepted what the generic decoder refuses: %v", wantErr)
	}
}

// byteCaps lists the capacities of a request's byte slices: an append to
// one must not reach into another.
func byteCaps(r *GetAssertionRequest) []int {
	caps := []int{cap(r.ClientDataHash), cap(r.PinUvAuthParam)}
	for _, d := range r.AllowList {
		caps = append(caps, cap(d.ID))
	}
	return caps
}

func TestDecodeGetAssertionFastPath(t *testing.T) {
	for name, b := range commonGARequests(t) {
		t.Run(name, func(t *testing.T) {
			if _, fast := decodeGetAssertionFast(b); !fast {
				t.Errorf("fell back to the generic decoder for %x", b)
			}
			checkDecodeAgrees(t, b)
		})
	}
}

// gaEdgeCases are inputs where fxamacker/cbor does something one might not
// guess, or that the fast path must not accept. check, if set, pins what
// the generic decoder makes of it.
var gaEdgeCases = []struct {
	name   string
	in     string
	fast   bool
	status Status
	check  func(*GetAssertionRequest) bool
}{
	{name: "empty map", in: "a0", fast: true,
		check: func(r *GetAssertionRequest) bool { return reflect.DeepEqual(r, &GetAssertionRequest{}) }},
	{name: "empty input", in: "", status: ErrInvalidCBOR},
	{name: "not a map", in: "80", status: ErrCBORUnexpectedType},
	{name: "trailing byte", in: "a1 01 61 61 00", status: ErrInvalidCBOR},
	{name: "truncated", in: "a1 02 58 20 00", status: ErrInvalidCBOR},
	{name: "truncated after an option key", in: "a1 05 a1 62 7576", status: ErrInvalidCBOR},
	{name: "truncated in a head", in: "a1 07 19 00", status: ErrInvalidCBOR},
	{name: "duplicate key", in: "a2 01 61 61 01 61 62", status: ErrInvalidCBOR},
	{name: "duplicate key, one non-minimal", in: "a2 01 61 61 18 01 61 62", status: ErrInvalidCBOR},
	{name: "indefinite map", in: "bf 01 61 61 ff", status: ErrInvalidCBOR},
	{name: "indefinite rpId", in: "a1 01 7f 61 61 ff", status: ErrInvalidCBOR},
	{name: "tag", in: "a1 01 c0 61 61", status: ErrInvalidCBOR},
	{name: "self-described tag", in: "d9d9f7 a0", status: ErrInvalidCBOR},
	{name: "invalid UTF-8 rpId", in: "a1 01 61 ff", status: ErrInvalidCBOR},
	{name: "invalid UTF-8 option key", in: "a1 05 a1 61 ff f5", status: ErrInvalidCBOR},
	{name: "invalid UTF-8 transport", in: "a1 03 81 a1 6a 7472616e73706f727473 81 62 c3 28", status: ErrInvalidCBOR},
	{name: "array of 1025", in: "a1 03 99 0401", status: ErrInvalidCBOR},
	{name: "nesting of 5", in: "a1 03 81 a1 6a 7472616e73706f727473 81 80", status: ErrInvalidCBOR},
	{name: "duplicate option", in: "a1 05 a2 62 7576 f5 62 7576 f4", status: ErrInvalidCBOR},
	{name: "duplicate descriptor key", in: "a1 03 81 a2 62 6964 40 62 6964 40", status: ErrInvalidCBOR},
	{name: "rpId as bytes", in: "a1 01 41 61", status: ErrCBORUnexpectedType},
	{name: "clientDataHash as text", in: "a1 02 61 61", status: ErrCBORUnexpectedType},
	{name: "negative protocol", in: "a1 07 20", status: ErrCBORUnexpectedType},
	{name: "float protocol", in: "a1 07 f9 3c00", status: ErrCBORUnexpectedType},
	{name: "integer option", in: "a1 05 a1 62 7576 01", status: ErrCBORUnexpectedType},
	{name: "integer option key", in: "a1 05 a1 01 f5", status: ErrCBORUnexpectedType},
	{name: "1-byte simple value below 32", in: "a1 07 f8 10", status: ErrInvalidCBOR},
	{name: "reserved additional information 28", in: "a1 07 1c 00000000 00000000 00000000 00000000", status: ErrInvalidCBOR},
	{name: "indefinite integer", in: "a1 07 1f", status: ErrInvalidCBOR},
	{name: "protocol 2^32-1", in: "a1 07 1b 00000000 ffffffff", fast: true,
		check: func(r *GetAssertionRequest) bool { return r.PinUvAuthProtocol == 1<<32-1 }},
	{name: "key 2^64-1", in: "a1 1b ffffffff ffffffff 00", status: ErrCBORUnexpectedType},
	// A wrong type in one field does not stop the others being filled.
	{name: "error leaves other fields", in: "a2 01 61 61 07 20", status: ErrCBORUnexpectedType,
		check: func(r *GetAssertionRequest) bool { return r.RPID == "a" }},

	// Valid, but left to the generic decoder.
	{name: "extensions", in: "a2 01 61 61 04 a1 68 6372656442 6c6f62 f5",
		check: func(r *GetAssertionRequest) bool { return string(r.Extensions["credBlob"]) == "\xf5" }},
	{name: "unknown key ignored", in: "a2 01 61 61 18 70 a1 61 78 80",
		check: func(r *GetAssertionRequest) bool { return r.RPID == "a" }},
	{name: "text key 1 is not key 1", in: "a1 61 31 61 61",
		check: func(r *GetAssertionRequest) bool { return r.RPID == "" }},
	{name: "null rpId is no rpId", in: "a1 01 f6",
		check: func(r *GetAssertionRequest) bool { return r.RPID == "" }},
	{name: "undefined clientDataHash is nil", in: "a1 02 f7",
		check: func(r *GetAssertionRequest) bool { return r.ClientDataHash == nil }},
	{name: "null option is false", in: "a1 05 a1 62 7570 f6",
		check: func(r *GetAssertionRequest) bool { v, ok := r.Options["up"]; return ok && !v }},
	{name: "null descriptor is a zero descriptor", in: "a1 03 81 f6",
		check: func(r *GetAssertionRequest) bool { return len(r.AllowList) == 1 && r.AllowList[0].ID == nil }},
	// Simple values other than false, true, null and undefined decode into
	// integers as their number.
	{name: "simple value 16 as protocol", in: "a1 07 f0",
		check: func(r *GetAssertionRequest) bool { return r.PinUvAuthProtocol == 16 }},
	{name: "simple value 255 as protocol", in: "a1 07 f8 ff",
		check: func(r *GetAssertionRequest) bool { return r.PinUvAuthProtocol == 255 }},
	// Struct field names match case-insensitively.
	{name: "descriptor key ID", in: "a1 03 81 a1 62 4944 41 07",
		check: func(r *GetAssertionRequest) bool { return bytes.Equal(r.AllowList[0].ID, []byte{7}) }},
	{name: "descriptor keys id and ID", in: "a1 03 81 a2 62 6964 41 07 62 4944 41 08", status: ErrInvalidCBOR},
	{name: "descriptor unknown key", in: "a1 03 81 a2 62 6964 41 07 63 616c67 26",
		check: func(r *GetAssertionRequest) bool { return bytes.Equal(r.AllowList[0].ID, []byte{7}) }},
	{name: "descriptor byte string key", in: "a1 03 81 a1 42 6964 41 07", status: ErrCBORUnexpectedType},
}

func TestDecodeGetAssertionEdgeCases(t *testing.T) {
	for _, c := range gaEdgeCases {
		t.Run(c.name, func(t *testing.T) {
			in := unhex(t, c.in)
			if _, fast := decodeGetAssertionFast(in); fast != c.fast {
				t.Errorf("fast path taken: %v, want %v", fast, c.fast)
			}
			checkDecodeAgrees(t, in)
			got, err := DecodeGetAssertionRequest(in)
			if StatusOf(err) != c.status {
				t.Fatalf("status %s, want %s (%v)", StatusOf(err).Name(), c.status.Name(), err)
			}
			if c.check != nil && !c.check(got) {
				t.Fatalf("fxamacker decodes it as %#v", got)
			}
		})
	}
}

// TestFastGALimits: the fast decoder's limits are the strict mode's, and
// the deepest request it accepts is within MaxNesting.
func TestFastGALimits(t *testing.T) {
	o := decMode.DecOptions()
	if o.MaxArrayElements != maxArrayElements || o.MaxMapPairs != maxMapPairs {
		t.Fatalf("cbor.go allows %d array elements and %d map pairs, fastga.go %d and %d",
			o.MaxArrayElements, o.MaxMapPairs, maxArrayElements, maxMapPairs)
	}
	if o.MaxNestedLevels < 4 {
		t.Fatalf("cbor.go allows a depth of %d; fastga.go accepts 4", o.MaxNestedLevels)
	}
}

// TestDecodeGetAssertionCopies: the request's byte strings do not alias
// the buffer the request came in, which the transport reuses.
func TestDecodeGetAssertionCopies(t *testing.T) {
	in := commonGARequests(t)["pinUvAuth protocol 2"]
	req, err := DecodeGetAssertionRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	clear(in)
	if req.ClientDataHash[0] != 0xcd || req.PinUvAuthParam[0] != 0xa2 || req.AllowList[0].ID[0] != 6 {
		t.Fatal("the request changed with the buffer it was decoded from")
	}
}

// commonGAResponses are responses as the provider builds them.
func commonGAResponses() map[string]*GetAssertionResponse {
	authData := bytes.Repeat([]byte{0xad}, 37)
	sig := bytes.Repeat([]byte{0x30}, 71)
	id := bytes.Repeat([]byte{0x1d}, 64)
	return map[string]*GetAssertionResponse{
		"allowList": {Credential: &CredentialDescriptor{Type: PublicKeyType, ID: id}, AuthData: authData, Signature: sig},
		"discoverable": {Credential: &CredentialDescriptor{Type: PublicKeyType, ID: id}, AuthData: authData, Signature: sig,
			User: &UserEntity{ID: []byte{1, 2, 3}, Name: "alice@example.com", DisplayName: "Alice"}, NumberOfCredentials: 2},
		"everything": {Credential: &CredentialDescriptor{Type: PublicKeyType, ID: id, Transports: []string{"internal", "hybrid"}},
			AuthData: authData, Signature: sig, User: &UserEntity{ID: []byte{1}, Name: "n", DisplayName: "d", Icon: "https://i"},
			NumberOfCredentials: 300, UserSelected: true, LargeBlobKey: bytes.Repeat([]byte{0x1b}, 32)},
		"empty":          {},
		"nil fields":     {Credential: &CredentialDescriptor{}, User: &UserEntity{}, LargeBlobKey: []byte{}},
		"negative":       {AuthData: []byte{}, Signature: []byte{}, NumberOfCredentials: -25},
		"long user name": {AuthData: authData, Signature: sig, User: &UserEntity{ID: id, Name: strings.Repeat("x", 300)}},
	}
}

func TestAppendGetAssertionResponse(t *testing.T) {
	for name, r := range commonGAResponses() {
		t.Run(name, func(t *testing.T) { checkAppendAgrees(t, r) })
	}
	t.Run("nil", func(t *testing.T) { checkAppendAgrees(t, nil) })
}

// TestAppendGetAssertionHeads: integers and lengths on either side of each
// head size (RFC 8949 §3) are written in the shortest form, as Marshal
// writes them.
func TestAppendGetAssertionHeads(t *testing.T) {
	for _, n := range []int{1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<63 - 1} {
		for _, i := range []int{n, -n, -n - 1} {
			checkAppendAgrees(t, &GetAssertionResponse{NumberOfCredentials: i})
		}
		if n <= 65536 {
			b := make([]byte, n)
			checkAppendAgrees(t, &GetAssertionResponse{AuthData: b, Credential: &CredentialDescriptor{Transports: make([]string, n)}})
		}
	}
}

// checkAppendAgrees checks AppendGetAssertionResponse against Marshal,
// appending both to a status byte and to nothing.
func checkAppendAgrees(t *testing.T, r *GetAssertionResponse) {
	want, wantErr := Marshal(r)
	for _, prefix := range [][]byte{nil, {0x00}} {
		got, err := AppendGetAssertionResponse(prefix, r)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, Marshal's %v", err, wantErr)
		}
		if !bytes.Equal(got, append(prefix, want...)) {
			t.Fatalf("appended\n%x\nMarshal\n%x", got, want)
		}
	}
}

// FuzzAppendGetAssertionResponse: any response is encoded as Marshal
// encodes it. Bits of shape choose which pointers are set and which empty
// slices are nil.
func FuzzAppendGetAssertionResponse(f *testing.F) {
	f.Add(uint16(0x03), []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte(nil), PublicKeyType, "usb,nfc", "alice", "Alice", "", 2)
	f.Add(uint16(0xffff), []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, "", "", "", "", "", 0)
	f.Add(uint16(0x07), bytes.Repeat([]byte{0xad}, 300), []byte{2}, []byte{3}, []byte{4}, []byte{5}, "\xff", "a,,b", "n", "d", "i", -1<<40)
	f.Fuzz(func(t *testing.T, shape uint16, authData, sig, credID, userID, blobKey []byte,
		typ, transports, name, displayName, icon string, n int) {
		orNil := func(b []byte, bit uint) []byte {
			if len(b) == 0 && shape&(1<<bit) != 0 {
				return nil
			}
			return b
		}
		r := &GetAssertionResponse{AuthData: orNil(authData, 3), Signature: orNil(sig, 4),
			NumberOfCredentials: n, UserSelected: shape&(1<<2) != 0, LargeBlobKey: orNil(blobKey, 5)}
		if shape&(1<<0) != 0 {
			r.Credential = &CredentialDescriptor{Type: typ, ID: orNil(credID, 6)}
			if transports != "" {
				r.Credential.Transports = strings.Split(transports, ",")
			} else if shape&(1<<8) != 0 {
				r.Credential.Transports = []string{}
			}
		}
		if shape&(1<<1) != 0 {
			r.User = &UserEntity{ID: orNil(userID, 7), Name: name, DisplayName: displayName, Icon: icon}
		}
		checkAppendAgrees(t, r)
	})
}

func BenchmarkDecodeGetAssertionRequest(b *testing.B) {
	in := commonGARequests(b)["bench"]
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := new(GetAssertionRequest)
			if err := Unmarshal(in, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeGetAssertionRequest(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendGetAssertionResponse(b *testing.B) {
	r := commonGAResponses()["discoverable"]
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendGetAssertionResponse(nil, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
