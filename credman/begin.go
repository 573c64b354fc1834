package credman

import (
	"encoding/base64"

	"github.com/passkeyd/passkeyd/provider"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// CreateEntry is where a new passkey would be saved (Android: CreateEntry).
type CreateEntry struct {
	AccountName              string `json:"accountName"`
	Description              string `json:"description"`
	PublicKeyCredentialCount int    `json:"publicKeyCredentialCount"`
	TotalCredentialCount     int    `json:"totalCredentialCount"`
	LastUsedTime             int64  `json:"lastUsedTime,omitempty"` // Unix milliseconds
}

// CredentialEntry is a passkey that matches a sign-in (Android: PublicKeyCredentialEntry).
type CredentialEntry struct {
	CredentialID Bytes  `json:"credentialId"`
	UserHandle   Bytes  `json:"userHandle"`
	Username     string `json:"username"`
	DisplayName  string `json:"displayName,omitempty"`
	LastUsedTime int64  `json:"lastUsedTime,omitempty"` // Unix milliseconds
	Created      int64  `json:"created"`                // Unix milliseconds
}

// BeginCreate lists where the passkey would be saved, with counts, without
// asking the user (Android: onBeginCreateCredential). It runs the same checks
// as Create, so a request that Create would refuse is refused here.
func (s *Service) BeginCreate(req CreateRequest) ([]CreateEntry, error) {
	_, _, mc, _, err := parseCreate(req)
	if err != nil {
		return nil, err
	}
	if !s.p.Settings().Enabled() {
		return nil, errDisabled()
	}
	forRP, err := s.p.Find(mc.RP.ID, nil)
	if err != nil {
		return nil, fromProvider(err)
	}
	all, err := s.p.Find("", nil)
	if err != nil {
		return nil, fromProvider(err)
	}
	e := CreateEntry{AccountName: "passkeyd", Description: "Save the passkey for " + mc.RP.ID + " in passkeyd",
		PublicKeyCredentialCount: len(forRP), TotalCredentialCount: len(all)}
	for _, pk := range all {
		e.LastUsedTime = max(e.LastUsedTime, pk.LastUsed*1000)
	}
	return []CreateEntry{e}, nil
}

// BeginGet lists the passkeys that match a sign-in, newest first, without
// asking the user (Android: onBeginGetCredential). Complete one with Get
// and its CredentialID.
func (s *Service) BeginGet(req GetRequest) ([]CredentialEntry, error) {
	_, _, ga, err := s.parseGet(req, nil)
	if err != nil {
		return nil, err
	}
	if !s.p.Settings().Enabled() {
		return nil, errDisabled()
	}
	var allow [][]byte
	for _, d := range ga.AllowList {
		allow = append(allow, d.ID)
	}
	found, err := s.p.Find(ga.RPID, allow)
	if err != nil {
		return nil, fromProvider(err)
	}
	uv := ga.Options["uv"]
	entries := make([]CredentialEntry, 0, len(found))
	for _, pk := range found {
		if !usableWithout(pk, uv, len(allow) > 0) {
			continue // Get could not use it: credProtect wants UV (CTAP 2.1 §12.1)
		}
		entries = append(entries, CredentialEntry{CredentialID: pk.ID, UserHandle: pk.UserID,
			Username: pk.UserName, DisplayName: pk.UserDisplayName, LastUsedTime: pk.LastUsed * 1000,
			Created: pk.Created * 1000})
	}
	return entries, nil
}

// usableWithout reports whether GetAssertion may use pk given whether UV is
// requested and whether an allowList names it (credProtect, CTAP 2.1 §12.1).
func usableWithout(pk provider.Passkey, uv, listed bool) bool {
	switch pk.CredProtect {
	case 3:
		return uv
	case 2:
		return uv || listed
	}
	return true
}
