package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// WarmUp registers n discoverable credentials on the daemon at socket, over
// up to conns connections at once, spread over the load's relying parties,
// and returns them for [Run] to assert with.
func WarmUp(ctx context.Context, socket string, n, conns int) ([]*Credential, error) {
	conns = max(1, min(conns, n))
	creds := make([]*Credential, n)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			hc, err := hidclient.Dial(socket)
			if err != nil {
				errs[c] = err
				return
			}
			defer hc.Close()
			for i := c; i < n && errs[c] == nil; i += conns {
				creds[i], errs[c] = register(ctx, hc, benchRP(i))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bench: warm-up registration failed: %w", err)
	}
	return creds, nil
}

// register makes one credential and reads its ID from the authenticator
// data.
func register(ctx context.Context, hc *hidclient.Client, rp string) (*Credential, error) {
	hash, user := make([]byte, 32), make([]byte, 16)
	_, _ = rand.Read(hash)
	_, _ = rand.Read(user)
	msg, err := makeCredentialMsg(rp, hash, user)
	if err != nil {
		return nil, err
	}
	reply, err := hc.CBOR(ctx, msg, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case len(reply) == 0:
		return nil, fmt.Errorf("%w: an empty reply", hidclient.ErrUnexpectedResponse)
	case reply[0] != byte(ctap.StatusOK):
		return nil, ctap.Status(reply[0])
	}
	var resp ctap.MakeCredentialResponse
	if err := ctap.Unmarshal(reply[1:], &resp); err != nil {
		return nil, fmt.Errorf("bench: MakeCredential reply: %w", err)
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil || ad.Attested == nil {
		return nil, fmt.Errorf("bench: MakeCredential authenticator data without a credential (%v)", err)
	}
	return newCredential(ad.Attested.CredentialID, rp)
}
