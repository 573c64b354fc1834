package keystore

// Count returns how many credentials the store holds and for how many
// relying parties, from the in-memory index: no record is read or decoded,
// so status displays stay cheap with 100k credentials.
func (db *DB) Count() (credentials, rps int, err error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return 0, 0, ErrClosed
	}
	return db.idx.live, len(db.idx.byRP), nil
}

// Count returns how many credentials the store holds and for how many
// relying parties.
func (m *Memory) Count() (credentials, rps int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, 0, ErrClosed
	}
	seen := map[string]bool{}
	for _, r := range m.byID {
		seen[r.RPID] = true
	}
	return len(m.byID), len(seen), nil
}
