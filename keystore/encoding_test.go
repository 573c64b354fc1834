package keystore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func sampleRecord() *Record {
	pub := append([]byte{4}, bytes.Repeat([]byte{7}, 64)...)
	return &Record{
		ID: bytes.Repeat([]byte{1}, 16), RPID: "example.com", RPName: "Example", UserID: []byte{9, 9},
		UserName: "alice", UserDisplayName: "Alice", PublicKey: pub, SealedKey: []byte{1, 2, 3},
		SealedSecrets: []byte{4}, Discoverable: true, CredProtect: 3, Counter: 1 << 31,
		BackupEligible: true, BackupState: true, CredBlob: []byte("b"),
		Created: time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, r := range map[string]*Record{
		"full":    sampleRecord(),
		"minimal": {ID: []byte{1}, RPID: "x", PublicKey: sampleRecord().PublicKey, SealedKey: []byte{1}},
	} {
		data, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, r)
		}
	}
}

// encodeMap encodes a raw map, to build records the encoder would not write.
func encodeMap(t testing.TB, m map[int]any) []byte {
	t.Helper()
	data, err := cbor.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func validMap() map[int]any {
	r := sampleRecord()
	return map[int]any{0: 1, 1: r.ID, 2: r.RPID, 7: r.PublicKey, 8: r.SealedKey, 16: int64(0), 17: int64(0)}
}

func TestDecodeRecordIsStrict(t *testing.T) {
	good, _ := encodeRecord(sampleRecord())
	with := func(k int, v any) []byte {
		m := validMap()
		m[k] = v
		return encodeMap(t, m)
	}
	without := func(k int) []byte {
		m := validMap()
		delete(m, k)
		return encodeMap(t, m)
	}
	cases := map[string][]byte{
		"empty":            nil,
		"trailing bytes":   append(bytes.Clone(good), 0),
		"truncated":        good[:len(good)-1],
		"not a map":        {0x80},
		"unknown key":      with(99, 1),
		"unknown version":  with(0, 2),
		"no version":       without(0),
		"no ID":            without(1),
		"no public key":    without(7),
		"wrong type":       with(2, 5),
		"bool as int":      with(10, 1),
		"credProtect 4":    with(11, 4),
		"counter too big":  with(12, uint64(1)<<32),
		"duplicate key":    {0xa2, 0x00, 0x01, 0x00, 0x01},
		"indefinite map":   {0xbf, 0x00, 0x01, 0xff},
		"tag":              append([]byte{0xc1}, good...),
		"invalid UTF-8":    with(2, string([]byte{0xff, 0xfe})),
		"compressed point": with(7, append([]byte{2}, make([]byte, 64)...)),
	}
	if _, err := decodeRecord(encodeMap(t, validMap())); err != nil {
		t.Fatalf("the valid base map does not decode: %v", err)
	}
	for name, data := range cases {
		if _, err := decodeRecord(data); !errors.Is(err, errBadRecord) {
			t.Errorf("%s: %v, want errBadRecord", name, err)
		}
	}
}

func TestZeroTimesRoundTrip(t *testing.T) {
	r := sampleRecord()
	r.Created, r.LastUsed = time.Time{}, time.Time{}
	data, _ := encodeRecord(r)
	got, err := decodeRecord(data)
	if err != nil || !got.Created.IsZero() || !got.LastUsed.IsZero() {
		t.Errorf("zero times: %v %v %v", got.Created, got.LastUsed, err)
	}
}

// FuzzDecodeRecord: decoding never panics, and whatever decodes encodes to
// a record that decodes to the same value, in a stable form.
func FuzzDecodeRecord(f *testing.F) {
	good, _ := encodeRecord(sampleRecord())
	f.Add(good)
	minimal, _ := encodeRecord(&Record{ID: []byte{1}, RPID: "x", PublicKey: sampleRecord().PublicKey, SealedKey: []byte{1}})
	f.Add(minimal)
	f.Add([]byte{0xa2, 0x00, 0x01, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		again, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		r2, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, r2)
		}
		if third, _ := encodeRecord(r2); !bytes.Equal(third, again) {
			t.Fatal("the encoding is not stable")
		}
	})
}
