package provider

import (
	"crypto/sha256"

	"github.com/passkeyd/passkeyd/keystore"
)

// Passkey describes a stored credential without any secret: what a person or
// an account chooser sees.
type Passkey struct {
	ID              []byte
	RPID            string
	RPName          string
	UserID          []byte
	UserName        string
	UserDisplayName string
	Discoverable    bool
	CredProtect     uint8
	BackupEligible  bool
	BackupState     bool
	Counter         uint32
	PublicKey       []byte // uncompressed P-256 point
	Created         int64  // Unix seconds
	LastUsed        int64  // Unix seconds, 0 if never
}

func passkeyOf(r *keystore.Record) Passkey {
	pk := Passkey{ID: r.ID, RPID: r.RPID, RPName: r.RPName, UserID: r.UserID, UserName: r.UserName,
		UserDisplayName: r.UserDisplayName, Discoverable: r.Discoverable, CredProtect: r.CredProtect,
		BackupEligible: r.BackupEligible, BackupState: r.BackupState, Counter: r.Counter,
		PublicKey: r.PublicKey, Created: r.Created.Unix()}
	if !r.LastUsed.IsZero() {
		pk.LastUsed = r.LastUsed.Unix()
	}
	return pk
}

// Find lists the passkeys of rpID ("" for every RP) without asking the user:
// the begin phase of an Android provider, which only shows entries. With
// allow non-empty, only those credential IDs are listed. It reveals no secret.
func (p *Provider) Find(rpID string, allow [][]byte) ([]Passkey, error) {
	var recs []*keystore.Record
	if len(allow) > 0 {
		for _, id := range allow {
			if r, err := p.store.Credential(id); err == nil && (rpID == "" || r.RPID == rpID) {
				recs = append(recs, r)
			}
		}
	} else {
		var h *[32]byte
		if rpID != "" {
			sum := sha256.Sum256([]byte(rpID))
			h = &sum
		}
		all, err := p.store.Credentials(h)
		if err != nil {
			return nil, p.internal("cannot read credentials", err)
		}
		for _, r := range all {
			if r.Discoverable || rpID == "" {
				recs = append(recs, r)
			}
		}
	}
	out := make([]Passkey, len(recs))
	for i, r := range recs {
		out[i] = passkeyOf(r)
	}
	return out, nil
}

// Counter is an optional Store ability: counting credentials and relying
// parties without reading every record (keystore.DB counts from its index).
type Counter interface {
	Count() (credentials, rps int, err error)
}

// Stats counts the stored passkeys, for status displays.
func (p *Provider) Stats() (credentials, rps int, err error) {
	if c, ok := p.store.(Counter); ok {
		return c.Count()
	}
	all, err := p.store.Credentials(nil)
	if err != nil {
		return 0, 0, p.internal("cannot read credentials", err)
	}
	seen := map[string]bool{}
	for _, r := range all {
		seen[r.RPID] = true
	}
	return len(all), len(seen), nil
}
