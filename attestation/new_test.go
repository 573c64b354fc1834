package attestation

import (
	"errors"
	"testing"
)

func TestNew(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	soft := newSoftTPM(t)
	full := Deps{CA: ca, TPM: soft}
	for _, tc := range []struct {
		name    string
		deps    Deps
		want    Attester
		wantErr error
	}{
		{"none", Deps{}, None{}, nil},
		{"packed", Deps{}, PackedSelf{}, nil},
		{"packed", full, &PackedBasic{CA: ca}, nil},
		{"packed-self", full, PackedSelf{}, nil},
		{"packed-x5c", full, &PackedBasic{CA: ca}, nil},
		{"packed-x5c", Deps{}, nil, ErrNoCA},
		{"android-key", full, &AndroidKey{CA: ca}, nil},
		{"android-key", Deps{TPM: soft}, nil, ErrNoCA},
		{"tpm", full, &TPM{CA: ca, Certifier: soft}, nil},
		{"tpm", Deps{CA: ca}, nil, ErrNoTPM},
		{"tpm", Deps{TPM: soft}, nil, ErrNoCA},
		{"fido-u2f", full, nil, ErrUnknownFormat},
		{"", full, nil, ErrUnknownFormat},
	} {
		got, err := New(tc.name, tc.deps)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("New(%q) error %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if tc.want != nil && (got.Format() != tc.want.Format() || !sameKind(got, tc.want)) {
			t.Errorf("New(%q) = %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

func sameKind(a, b Attester) bool {
	switch a := a.(type) {
	case *PackedBasic:
		b, ok := b.(*PackedBasic)
		return ok && a.CA == b.CA
	case *AndroidKey:
		b, ok := b.(*AndroidKey)
		return ok && a.CA == b.CA
	case *TPM:
		b, ok := b.(*TPM)
		return ok && a.CA == b.CA && a.Certifier == b.Certifier
	default:
		return a == b
	}
}
