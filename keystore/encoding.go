package keystore

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// This file owns the stored form of a [Record]: a CBOR map with integer keys
// whose key 0 is the encoding version. It is a storage format, not the CTAP
// wire format, so it has its own modes here rather than borrowing ctap's.

// recordVersion is the encoding version written by encodeRecord.
const recordVersion = 1

// maxCredentialIDLen is the longest credential ID accepted
// (WebAuthn Level 3 §5.1: credential IDs are at most 1023 bytes).
const maxCredentialIDLen = 1023

// recordV1 is version 1 of the stored record. Times are Unix microseconds
// (UTC), which cover every representable date, the zero time included.
type recordV1 struct {
	Version         uint64 `cbor:"0,keyasint"`
	ID              []byte `cbor:"1,keyasint"`
	RPID            string `cbor:"2,keyasint"`
	RPName          string `cbor:"3,keyasint,omitempty"`
	UserID          []byte `cbor:"4,keyasint,omitempty"`
	UserName        string `cbor:"5,keyasint,omitempty"`
	UserDisplayName string `cbor:"6,keyasint,omitempty"`
	PublicKey       []byte `cbor:"7,keyasint"`
	SealedKey       []byte `cbor:"8,keyasint"`
	SealedSecrets   []byte `cbor:"9,keyasint,omitempty"`
	Discoverable    bool   `cbor:"10,keyasint,omitempty"`
	CredProtect     uint8  `cbor:"11,keyasint,omitempty"`
	Counter         uint32 `cbor:"12,keyasint,omitempty"`
	BackupEligible  bool   `cbor:"13,keyasint,omitempty"`
	BackupState     bool   `cbor:"14,keyasint,omitempty"`
	CredBlob        []byte `cbor:"15,keyasint,omitempty"`
	Created         int64  `cbor:"16,keyasint"`
	LastUsed        int64  `cbor:"17,keyasint"`
}

var (
	recordDecMode cbor.DecMode
	recordEncMode cbor.EncMode
)

func init() {
	var err error
	recordDecMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,
		MaxArrayElements:  16,
		MaxMapPairs:       32,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	recordEncMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// errBadRecord marks a stored record that does not decode or validate.
var errBadRecord = errors.New("keystore: malformed credential record")

// encodeRecord returns the stored form of r.
func encodeRecord(r *Record) ([]byte, error) {
	if err := validateRecord(r); err != nil {
		return nil, err
	}
	return recordEncMode.Marshal(recordV1{
		Version: recordVersion, ID: r.ID, RPID: r.RPID, RPName: r.RPName,
		UserID: r.UserID, UserName: r.UserName, UserDisplayName: r.UserDisplayName,
		PublicKey: r.PublicKey, SealedKey: r.SealedKey, SealedSecrets: r.SealedSecrets,
		Discoverable: r.Discoverable, CredProtect: r.CredProtect, Counter: r.Counter,
		BackupEligible: r.BackupEligible, BackupState: r.BackupState, CredBlob: r.CredBlob,
		Created: r.Created.UnixMicro(), LastUsed: r.LastUsed.UnixMicro(),
	})
}

// decodeRecord parses a stored record strictly: duplicate or unknown keys,
// indefinite lengths, tags, trailing bytes, an unknown version and values
// that would not pass [validateRecord] are all refused.
func decodeRecord(data []byte) (*Record, error) {
	var v recordV1
	if err := recordDecMode.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	if v.Version != recordVersion {
		return nil, fmt.Errorf("%w: unknown encoding version %d", errBadRecord, v.Version)
	}
	r := &Record{
		ID: v.ID, RPID: v.RPID, RPName: v.RPName,
		UserID: v.UserID, UserName: v.UserName, UserDisplayName: v.UserDisplayName,
		PublicKey: v.PublicKey, SealedKey: v.SealedKey, SealedSecrets: v.SealedSecrets,
		Discoverable: v.Discoverable, CredProtect: v.CredProtect, Counter: v.Counter,
		BackupEligible: v.BackupEligible, BackupState: v.BackupState, CredBlob: v.CredBlob,
		Created: time.UnixMicro(v.Created).UTC(), LastUsed: time.UnixMicro(v.LastUsed).UTC(),
	}
	if err := validateRecord(r); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	return r, nil
}

// validateRecord checks what every stored record must satisfy.
func validateRecord(r *Record) error {
	switch {
	case len(r.ID) == 0 || len(r.ID) > maxCredentialIDLen:
		return fmt.Errorf("keystore: credential ID length %d out of range 1..%d", len(r.ID), maxCredentialIDLen)
	case r.RPID == "":
		return errors.New("keystore: empty RP ID")
	case len(r.PublicKey) != 65 || r.PublicKey[0] != 4:
		return errors.New("keystore: public key is not an uncompressed P-256 point")
	case len(r.SealedKey) == 0:
		return errors.New("keystore: empty sealed key")
	case r.CredProtect > 3:
		return fmt.Errorf("keystore: credProtect level %d out of range 0..3", r.CredProtect)
	}
	return nil
}

// normalizeTimes makes r's times what a stored copy would read back:
// UTC, microsecond precision, no monotonic clock reading.
func normalizeTimes(r *Record) {
	r.Created = r.Created.UTC().Truncate(time.Microsecond)
	r.LastUsed = r.LastUsed.UTC().Truncate(time.Microsecond)
}

// packed returns a copy of r whose byte slices share one allocation and
// whose strings share another, so that a record kept in memory reads as
// two blocks: with many credentials, lookups are bound by cache misses.
func packed(r *Record) *Record {
	c := r.Clone()
	all := r.RPID + r.RPName + r.UserName + r.UserDisplayName // one allocation
	for _, f := range []*string{&c.RPID, &c.RPName, &c.UserName, &c.UserDisplayName} {
		n := len(*f)
		*f, all = all[:n], all[n:]
	}
	return c
}
