package ctaphid_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// A Server serves a Handler on a Unix socket; any CTAPHID host can then
// talk to it, here the project's own client.
func ExampleServer() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ctaphid.sock")

	l, err := ctaphid.ListenUnix(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Answer every CTAP2 command with CTAP2_OK and no data.
	h := handlerFunc(func(ctx context.Context, req []byte, userNeeded func()) []byte {
		return []byte{0x00}
	})
	srv := ctaphid.NewServer(h)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, err := hidclient.Dial(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	reply, err := c.CBOR(context.Background(), []byte{0x04}, nil) // authenticatorGetInfo
	fmt.Printf("% x %v\n", reply, err)
	// Output: 00 <nil>
}
