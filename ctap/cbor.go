package ctap

import (
	"errors"

	"github.com/fxamacker/cbor/v2"
)

// This file owns CBOR. Requests are decoded in one strict mode and replies
// are encoded in the CTAP2 canonical form (CTAP 2.1 §8 "Message encoding"):
// python-fido2 and libfido2 re-encode replies and reject anything else.

// MaxNesting is the deepest nesting of maps and arrays a request may use.
// CTAP 2.1 §8: "the authenticator must support a depth of at least 4";
// hmac-secret's keyAgreement inside extensions is the deepest real case.
const MaxNesting = 4

var (
	decMode cbor.DecMode
	encMode cbor.EncMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   MaxNesting,
		MaxArrayElements:  1024,
		MaxMapPairs:       256,
		UTF8:              cbor.UTF8RejectInvalid,
		IntDec:            cbor.IntDecConvertSignedOrFail,
		DefaultMapType:    nil,
		ExtraReturnErrors: cbor.ExtraDecErrorNone,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	encMode, err = cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// Unmarshal decodes a request strictly: duplicate keys, indefinite lengths,
// tags, trailing bytes and nesting deeper than [MaxNesting] are refused with
// ErrInvalidCBOR; a value of the wrong type gives ErrCBORUnexpectedType.
// Unknown map keys are ignored, as CTAP requires.
func Unmarshal(data []byte, v any) error {
	err := decMode.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var typeErr *cbor.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return Errorf(ErrCBORUnexpectedType, "%v", err)
	}
	return Errorf(ErrInvalidCBOR, "%v", err)
}

// Marshal encodes v in the CTAP2 canonical form.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// MustMarshal is Marshal for values whose encoding cannot fail (fixed shapes
// built by this program). It panics on error, which is a programming bug.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic("ctap: cannot encode " + err.Error())
	}
	return b
}
