package keystore_test

import (
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
)

// The stores and sealers implement what the provider consumes.
var (
	_ provider.Store = (*keystore.DB)(nil)
	_ provider.Store = (*keystore.Memory)(nil)

	_ provider.Sealer      = (*keystore.FileSealer)(nil)
	_ provider.KeyImporter = (*keystore.FileSealer)(nil)
	_ provider.Sealer      = (*keystore.KeyringSealer)(nil)
	_ provider.KeyImporter = (*keystore.KeyringSealer)(nil)
	_ provider.Sealer      = (*keystore.MemorySealer)(nil)
	_ provider.KeyImporter = (*keystore.MemorySealer)(nil)
	_ provider.KeyExporter = (*keystore.MemorySealer)(nil)
)
