package attestation_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/passkeyd/passkeyd/attestation"
)

// The CLI's `passkeyd attestation init` and `export`, and the choice of
// attester for a profile once the CA exists.
func Example() {
	dir, _ := os.MkdirTemp("", "passkeyd")
	defer os.RemoveAll(dir)
	caDir := filepath.Join(dir, "attestation")

	if _, err := attestation.InitCA(caDir, attestation.DefaultAAGUID, attestation.CAOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	_, err := attestation.InitCA(caDir, attestation.DefaultAAGUID, attestation.CAOptions{})
	fmt.Println(err != nil)

	ca, err := attestation.LoadCA(caDir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.27s\n", ca.RootPEM())

	profile, _ := attestation.ProfileByName(attestation.ProfileDeviceBound)
	att, _ := profile.Attester(attestation.Deps{CA: ca})
	fmt.Printf("%s %T\n", att.Format(), att)
	// Output:
	// true
	// -----BEGIN CERTIFICATE-----
	// packed *attestation.PackedBasic
}

func ExampleNew() {
	_, err := attestation.New("packed-x5c", attestation.Deps{})
	fmt.Println(err)
	_, err = attestation.New("u2f", attestation.Deps{})
	fmt.Println(err)
	// Output:
	// attestation: no local attestation CA; run `passkeyd attestation init` (the packed-x5c format needs it)
	// attestation: unknown attestation format "u2f" (choose one of: none, packed, packed-self, packed-x5c, android-key, tpm)
}

func ExampleProfileByName() {
	p, _ := attestation.ProfileByName(attestation.ProfileSynced)
	p.AAGUID, _ = attestation.ParseAAGUID("00000000-0000-4000-8000-000000000001")
	fmt.Println(p.Attestation, p.BackupEligible, p.BackupState, p.Counter, attestation.FormatAAGUID(p.AAGUID), p.Validate())
	// Output:
	// none true true zero 00000000-0000-4000-8000-000000000001 <nil>
}
