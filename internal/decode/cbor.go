package decode

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Attestation objects are not CTAP2-canonical in general (a browser or a
// platform re-encodes them), so they are read in a mode of their own: map key
// order is free, but duplicate keys, indefinite lengths, tags and trailing
// bytes are still refused, because relying parties refuse them too.
var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		UTF8:             cbor.UTF8RejectInvalid,
		IntDec:           cbor.IntDecConvertSignedOrFail,
		DefaultMapType:   nil,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// unmarshal decodes exactly one CBOR item that fills data.
func unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return cborError(err)
	}
	return nil
}

// itemLen returns the length of the one well-formed CBOR item at the start
// of b (authenticatorData concatenates items without framing).
func itemLen(b []byte) (int, error) {
	var raw cbor.RawMessage
	rest, err := decMode.UnmarshalFirst(b, &raw)
	if err != nil {
		return 0, cborError(err)
	}
	return len(b) - len(rest), nil
}

// errTruncated is a CBOR item that the input ends inside of.
var errTruncated = errors.New("the CBOR item is truncated")

// cborError drops the library's "cbor: " prefix: the caller says where.
func cborError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	msg := strings.TrimPrefix(err.Error(), "cbor: ")
	var n, at int
	if _, e := fmt.Sscanf(msg, "%d bytes of extraneous data starting at index %d", &n, &at); e == nil {
		return fmt.Errorf("%s after the CBOR item, at byte %d", plural(n, "trailing byte"), at)
	}
	return fmt.Errorf("invalid CBOR: %s", msg)
}
