//go:build tpmsim

package keystore

import (
	"fmt"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// With the tpmsim build tag, OpenTPM("sim") runs the Microsoft reference TPM
// (go-tpm-tools, cgo and libcrypto) inside the process. Its hierarchy seeds
// derive from the given seed, so a reopen in the same or a later process
// derives the same SRK and loads old blobs: insecure by design, for tests.
// Only one simulator exists per process; a second open waits for Close.
func init() {
	openSimulator = func(seed int64) (transport.TPMCloser, error) {
		sim, err := simulator.GetWithFixedSeedInsecure(seed)
		if err != nil {
			return nil, fmt.Errorf("%w: failed to start the TPM simulator: %v", ErrTPMUnavailable, err)
		}
		return transport.FromReadWriteCloser(sim), nil
	}
}
