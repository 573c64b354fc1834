//go:build unix

package ctaphid_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// TestListenUnixMode is not parallel: it sets the process umask to 0, so
// that a socket made the ordinary way would be 0777. It covers both ways of
// binding: in a private folder and in a shared one.
func TestListenUnixMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, dirMode := range []os.FileMode{0o700, 0o755} {
		dir := shortTempDir(t)
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		checkSocketMode(t, filepath.Join(dir, "ctaphid.sock"))
	}
}

func checkSocketMode(t *testing.T, path string) {
	t.Helper()
	l, err := ctaphid.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if l.Addr().String() != path {
		t.Errorf("Addr() = %s, want %s", l.Addr(), path)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only the socket", len(entries))
	}
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("dial: %v", err)
	} else {
		c.Close()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after Close: %v", err)
	}
}

func TestListenUnixExisting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string // empty: ListenUnix succeeds
	}{
		{"stale socket", func(t *testing.T, path string) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
		}, ""},
		{"live socket", func(t *testing.T, path string) {
			l, err := ctaphid.ListenUnix(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, "in use"},
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a socket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(shortTempDir(t), "s")
			tc.prepare(t, path)
			l, err := ctaphid.ListenUnix(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				l.Close()
				return
			}
			if err == nil {
				l.Close()
				t.Fatalf("ListenUnix succeeded, want an error saying %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

// TestListenUnixCloseKeepsReplacement: Close removes only its own socket.
func TestListenUnixCloseKeepsReplacement(t *testing.T) {
	t.Parallel()
	path := filepath.Join(shortTempDir(t), "s")
	l, err := ctaphid.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close removed a file it did not create: %v", err)
	}
}
