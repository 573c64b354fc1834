package testcontrols_test

import (
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/provider"
)

// Synced vs device-bound: the backup flags (BE, BS) and counters a
// relying party sees from each profile, as passkeyd serve --profile sets
// them; then a synced passkey whose backup is gone (BS=0), and a BE that
// changes, which the relying party must refuse.
func TestSyncedVsDeviceBound(t *testing.T) {
	for _, name := range attestation.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			prof, _ := attestation.ProfileByName(name)
			p, _ := newProvider(t, provider.Config{BackupEligible: prof.BackupEligible, BackupState: prof.BackupState,
				ZeroCounter: prof.Counter == attestation.CounterZero})
			rp := newRelyingParty(t, p)
			carol := newUser("carol")
			if _, err := rp.register(carol); err != nil {
				t.Fatal(err)
			}
			cred, err := rp.signIn(carol)
			if err != nil {
				t.Fatal(err)
			}
			synced := name == attestation.ProfileSynced
			if cred.Flags.BackupEligible != synced || cred.Flags.BackupState != synced || (cred.Authenticator.SignCount == 0) != synced {
				t.Fatalf("BE %v BS %v counter %d", cred.Flags.BackupEligible, cred.Flags.BackupState, cred.Authenticator.SignCount)
			}
			if !synced {
				return
			}

			no := false
			if err := p.SetCredentialProperties(cred.ID, provider.CredentialProperties{BackupState: &no}); err != nil {
				t.Fatal(err)
			}
			if cred, err = rp.signIn(carol); err != nil || cred.Flags.BackupState {
				t.Fatalf("after the backup is gone: %v, BS %v", err, cred.Flags.BackupState)
			}
			if err := p.SetCredentialProperties(cred.ID, provider.CredentialProperties{BackupEligibility: &no}); err != nil {
				t.Fatal(err)
			}
			if _, err := rp.signIn(carol); err == nil || !strings.Contains(err.Error(), "Backup Eligible flag inconsistency") {
				t.Fatalf("BE changed, the relying party said: %v", err)
			}
		})
	}
}
