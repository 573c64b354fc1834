package keystore

import (
	"crypto/rand"
	"testing"
	"time"
)

// BenchmarkGroupCommit: durable Creates from 32 goroutines, without key
// generation, so that only the store's part counts: what the committer can
// take when nothing else competes for the disk. Beside ns/op it reports
// how the commits looked: creates per commit, pages written per commit
// (each a separate write; bbolt syncs them, then the meta page) and the
// time to write and sync them (bbolt's write time, the meta page apart).
// On a disk where a scattered 4 KiB page adds tens of microseconds to a
// sync, pages per create decide the rate.
func BenchmarkGroupCommit(b *testing.B) {
	db := openTestDB(b, b.TempDir())
	pub := append([]byte{4}, make([]byte, 64)...)
	sealed := make([]byte, 61) // the file sealer's size for a P-256 key
	before, txns := db.bolt.Stats(), db.commits.txns.Load()
	parallel32(b, func(pb *testing.PB) {
		for pb.Next() {
			id := make([]byte, 16)
			rand.Read(id)
			r := &Record{ID: id, RPID: "example.com", PublicKey: pub, SealedKey: sealed, Created: time.Now()}
			if err := db.Create(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	after := db.bolt.Stats()
	d := after.Sub(&before)
	commits := float64(max(db.commits.txns.Load()-txns, 1))
	b.ReportMetric(float64(b.N)/commits, "creates/commit")
	b.ReportMetric(float64(d.TxStats.GetWrite())/commits, "pages/commit")
	b.ReportMetric(float64(d.TxStats.GetWriteTime().Microseconds())/commits, "write-µs/commit")
}
