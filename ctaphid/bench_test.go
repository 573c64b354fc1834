package ctaphid_test

import (
	"context"
	"testing"
)

// BenchmarkSocketRoundTrip is one 64-byte CTAPHID_PING over the socket.
func BenchmarkSocketRoundTrip(b *testing.B) {
	c := startServer(b, echo).client(b)
	data := randomBytes(64)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Ping(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
}
