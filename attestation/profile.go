package attestation

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultAAGUID is passkeyd's own AAGUID, fe686bbe-74c2-47b4-b54f-3b920e332581
// (WebAuthn §6.5.1), a random version 4 UUID drawn once for passkeyd. Both
// profiles use it, so passkeyd never passes for another vendor's provider
// unless told to.
var DefaultAAGUID = [16]byte{0xfe, 0x68, 0x6b, 0xbe, 0x74, 0xc2, 0x47, 0xb4, 0xb5, 0x4f, 0x3b, 0x92, 0x0e, 0x33, 0x25, 0x81}

// CounterMode is how a provider keeps signature counters (WebAuthn §6.1.1).
type CounterMode string

// Counter modes.
const (
	// CounterIncrement gives each credential its own counter that grows
	// with every assertion, as device-bound authenticators do.
	CounterIncrement CounterMode = "increment"
	// CounterZero always reports 0: a synced credential cannot keep one
	// counter across devices, and §6.1.1 lets it say so with 0.
	CounterZero CounterMode = "zero"
)

// Names of the built-in profiles.
const (
	ProfileDeviceBound = "device-bound"
	ProfileSynced      = "synced"
)

// Profile sets what a relying party can observe of a passkey provider at
// once: its AAGUID (WebAuthn §6.5.1), attestation format (§8), the backup
// flags BE and BS (§6.1.3) and signature counters (§6.1.1). Every field may
// be overridden after ProfileByName; Validate says whether the result is
// consistent.
type Profile struct {
	Name           string
	AAGUID         [16]byte
	Attestation    string // a name New accepts
	BackupEligible bool   // BE: the credential may be backed up or synced
	BackupState    bool   // BS: the credential is backed up now
	Counter        CounterMode
}

// ProfileNames lists the built-in profiles.
func ProfileNames() []string { return []string{ProfileDeviceBound, ProfileSynced} }

// ProfileByName returns a built-in profile:
//   - "device-bound", a provider like Microsoft Authenticator that keeps
//     passkeys on the device: BE=0 BS=0, counters, and "packed"
//     attestation (basic with the local CA once it exists, else self);
//   - "synced", a provider like Google Password Manager that syncs them:
//     BE=1 BS=1, counter always 0, "none" attestation.
//
// Both use DefaultAAGUID. Any other name fails with ErrUnknownProfile.
func ProfileByName(name string) (Profile, error) {
	switch name {
	case ProfileDeviceBound:
		return Profile{Name: name, AAGUID: DefaultAAGUID, Attestation: FormatPacked, Counter: CounterIncrement}, nil
	case ProfileSynced:
		return Profile{Name: name, AAGUID: DefaultAAGUID, Attestation: FormatNone,
			BackupEligible: true, BackupState: true, Counter: CounterZero}, nil
	}
	return Profile{}, fmt.Errorf("%w %q (choose one of: %s)", ErrUnknownProfile, name, strings.Join(ProfileNames(), ", "))
}

// Validate reports an inconsistent profile: BS without BE, which §6.1.3
// forbids ("If the BE flag is not set, the BS flag MUST NOT be set"), an
// unknown counter mode or attestation name.
func (p Profile) Validate() error {
	if p.BackupState && !p.BackupEligible {
		return fmt.Errorf("attestation: profile %q: backup state (BS) needs backup eligibility (BE)", p.Name)
	}
	if p.Counter != CounterIncrement && p.Counter != CounterZero {
		return fmt.Errorf("attestation: profile %q: counter mode %q is neither %q nor %q", p.Name, p.Counter, CounterIncrement, CounterZero)
	}
	if !knownName(p.Attestation) {
		return fmt.Errorf("%w %q in profile %q", ErrUnknownFormat, p.Attestation, p.Name)
	}
	return nil
}

// Attester returns the profile's attester: New(p.Attestation, deps).
func (p Profile) Attester(deps Deps) (Attester, error) { return New(p.Attestation, deps) }

// ParseAAGUID reads an AAGUID in UUID form (RFC 9562 §4,
// "fe686bbe-74c2-47b4-b54f-3b920e332581") or as 32 hex digits.
func ParseAAGUID(s string) ([16]byte, error) {
	var a [16]byte
	h := s
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		h = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return a, fmt.Errorf("attestation: AAGUID %q is not a UUID", s)
	}
	return [16]byte(b), nil
}

// FormatAAGUID writes an AAGUID in lowercase UUID form.
func FormatAAGUID(a [16]byte) string {
	h := hex.EncodeToString(a[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
