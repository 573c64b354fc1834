package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/daemon"
)

// FillPerRP is how many credentials [Fill] gives each relying party.
const FillPerRP = 4

// fillWorkers is how many registrations [Fill] runs at once: enough for
// the store to group many of them into one commit.
const fillWorkers = 64

// FillRP names the relying party of the i-th credential [Fill] adds:
// rp0.fill.example holds the first FillPerRP, and so on.
func FillRP(i int) string { return fmt.Sprintf("rp%d.fill.example", i/FillPerRP) }

// Fill adds n discoverable credentials to the file-backend store in
// stateDir, FillPerRP per relying party, by running the daemon's own
// provider in this process: the records, sealed keys and attestation are
// what `passkeyd serve` makes. No daemon may be using stateDir. progress,
// if set, hears how many were added so far.
func Fill(ctx context.Context, stateDir string, n int, progress func(done int64)) error {
	run, err := os.MkdirTemp("", "pkdfill")
	if err != nil {
		return err
	}
	defer os.RemoveAll(run)
	d, err := daemon.Start(daemon.Config{StateDir: stateDir, RuntimeDir: run, Keystore: "file", UV: "approve",
		UVTimeout: time.Minute, Version: "bench-fill"})
	if err != nil {
		return err
	}
	base, _, err := d.P.Stats()
	if err == nil {
		err = fill(ctx, d, base, n, progress)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(err, d.Shutdown(sctx))
}

func fill(ctx context.Context, d *daemon.Daemon, base, n int, progress func(int64)) error {
	var next atomic.Int64
	p := &plan{}
	stop := p.report(progress)
	defer stop()
	errs := make([]error, fillWorkers)
	var wg sync.WaitGroup
	for w := range fillWorkers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n) && errs[w] == nil && ctx.Err() == nil; i = next.Add(1) - 1 {
				errs[w] = fillOne(ctx, d, base+int(i))
				p.done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// fillOne registers the i-th credential of the store.
func fillOne(ctx context.Context, d *daemon.Daemon, i int) error {
	hash, user := make([]byte, 32), make([]byte, 16)
	_, _ = rand.Read(hash)
	_, _ = rand.Read(user)
	name := fmt.Sprintf("user%d", i)
	rp := FillRP(i)
	_, err := d.P.MakeCredential(ctx, &ctap.MakeCredentialRequest{
		ClientDataHash:   hash,
		RP:               &ctap.RPEntity{ID: rp, Name: rp},
		User:             &ctap.UserEntity{ID: user, Name: name, DisplayName: name},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: -7}},
		Options:          map[string]bool{"rk": true, "uv": true},
	})
	if err != nil {
		return fmt.Errorf("bench: registration %d failed: %w", i, err)
	}
	return nil
}
