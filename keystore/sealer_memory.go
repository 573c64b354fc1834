package keystore

// MemorySealer seals keys under a random master key that lives only in this
// process, for tests and --ephemeral runs: whatever it sealed cannot be opened
// once the process (or the MemorySealer) is gone. Each MemorySealer has its
// own master key. Unlike the durable backends it can export private keys.
type MemorySealer struct {
	*aeadSealer
}

// NewMemorySealer returns a MemorySealer with a fresh random master key.
func NewMemorySealer() *MemorySealer {
	master := newMasterKey()
	defer clear(master)
	s, err := newAEADSealer(master)
	if err != nil {
		panic(err) // unreachable: the key has the right size
	}
	return &MemorySealer{aeadSealer: s}
}

// ExportKey reveals a key sealed by this MemorySealer as PKCS#8 DER
// (test stores only: the WebDriver "Get Credentials" operation).
func (s *MemorySealer) ExportKey(credID, sealed []byte) ([]byte, error) {
	return s.exportKey(credID, sealed)
}
