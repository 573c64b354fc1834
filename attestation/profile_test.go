package attestation

import (
	"errors"
	"slices"
	"testing"
)

func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Profile
	}{
		{"device-bound", Profile{Name: "device-bound", AAGUID: DefaultAAGUID, Attestation: "packed", Counter: CounterIncrement}},
		{"synced", Profile{Name: "synced", AAGUID: DefaultAAGUID, Attestation: "none", BackupEligible: true, BackupState: true, Counter: CounterZero}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ProfileByName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Errorf("profile %+v, want %+v", p, tc.want)
			}
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := ProfileByName("gpm"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("unknown profile: %v, want ErrUnknownProfile", err)
	}
	if !slices.Equal(ProfileNames(), []string{"device-bound", "synced"}) {
		t.Errorf("ProfileNames = %v", ProfileNames())
	}
}

// TestProfileAttester checks that device-bound attests with the CA once it
// exists and falls back to self attestation before, and synced never
// attests.
func TestProfileAttester(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	device, _ := ProfileByName(ProfileDeviceBound)
	synced, _ := ProfileByName(ProfileSynced)
	for _, tc := range []struct {
		p    Profile
		deps Deps
		want Attester
	}{
		{device, Deps{CA: ca}, &PackedBasic{CA: ca}},
		{device, Deps{}, PackedSelf{}},
		{synced, Deps{CA: ca}, None{}},
	} {
		got, err := tc.p.Attester(tc.deps)
		if err != nil || !sameKind(got, tc.want) {
			t.Errorf("%s with CA %v: %#v, %v; want %#v", tc.p.Name, tc.deps.CA != nil, got, err, tc.want)
		}
	}
}

func TestProfileOverridesValidate(t *testing.T) {
	p, _ := ProfileByName(ProfileSynced)
	for name, edit := range map[string]func(*Profile){
		"BS without BE":       func(p *Profile) { p.BackupEligible = false },
		"unknown counter":     func(p *Profile) { p.Counter = "sometimes" },
		"unknown attestation": func(p *Profile) { p.Attestation = "fido-u2f" },
	} {
		q := p
		edit(&q)
		if err := q.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, q)
		}
	}
	ok := p
	ok.BackupState, ok.Attestation, ok.AAGUID = false, FormatAndroidKey, [16]byte{9}
	if err := ok.Validate(); err != nil {
		t.Errorf("a consistent override: %v", err)
	}
}

func TestDefaultAAGUID(t *testing.T) {
	if got := FormatAAGUID(DefaultAAGUID); got != "fe686bbe-74c2-47b4-b54f-3b920e332581" {
		t.Errorf("DefaultAAGUID = %s", got)
	}
	if DefaultAAGUID[6]>>4 != 4 || DefaultAAGUID[8]>>6 != 2 {
		t.Error("DefaultAAGUID is not a version 4, RFC 9562 variant UUID")
	}
}

func TestParseAAGUID(t *testing.T) {
	for _, s := range []string{"fe686bbe-74c2-47b4-b54f-3b920e332581", "FE686BBE74C247B4B54F3B920E332581"} {
		if a, err := ParseAAGUID(s); err != nil || a != DefaultAAGUID {
			t.Errorf("ParseAAGUID(%q) = %x, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "fe686bbe-74c2-47b4-b54f-3b920e3325", "fe686bbe_74c2_47b4_b54f_3b920e332581", "zz686bbe-74c2-47b4-b54f-3b920e332581"} {
		if _, err := ParseAAGUID(s); err == nil {
			t.Errorf("ParseAAGUID(%q) succeeded", s)
		}
	}
}
