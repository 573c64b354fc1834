package ctaphid

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ListenUnix listens on a Unix stream socket at path whose mode is 0600
// whatever the umask. In a folder that only its owner can enter (0700, as
// passkeyd's runtime folder is) the socket is bound in place and then
// restricted; elsewhere it is bound in a private temporary folder beside
// path, restricted, then linked into place, so that no one sees it before.
// A socket file left by a dead process is removed; a live one, or any other
// file, is an error. The listener removes the socket file when closed. The
// folder of path must exist.
func ListenUnix(path string) (net.Listener, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	bind := bindLinked
	if fi, err := os.Stat(filepath.Dir(path)); err == nil && fi.Mode().Perm()&0o077 == 0 {
		bind = bindPrivate
	}
	l, err := bind(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		closeQuietly(l)
		return nil, fmt.Errorf("ctaphid: failed to create the socket %s: %w", path, err)
	}
	return &unixListener{UnixListener: l, path: path, file: fi}, nil
}

// bindLinked binds the socket in a private temporary folder beside path,
// then links it to path; link(2), unlike rename(2), never replaces a file
// that appeared meanwhile.
func bindLinked(path string) (*net.UnixListener, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".pk")
	if err != nil {
		return nil, fmt.Errorf("ctaphid: failed to create the socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	l, err := bindPrivate(filepath.Join(tmp, "s"))
	if err != nil {
		return nil, err
	}
	if err := os.Link(filepath.Join(tmp, "s"), path); err != nil {
		closeQuietly(l)
		return nil, fmt.Errorf("ctaphid: failed to create the socket %s: %w", path, err)
	}
	return l, nil
}

// bindPrivate binds a socket at path, in a folder only we can enter, and
// gives it mode 0600 before anyone can reach it.
func bindPrivate(path string) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ctaphid: failed to create the socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		closeQuietly(l)
		return nil, fmt.Errorf("ctaphid: failed to restrict the socket: %w", err)
	}
	return l, nil
}

// removeStaleSocket removes path if it is a socket that nobody listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ctaphid: failed to inspect %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("ctaphid: %s exists and is not a socket; remove it or choose another path", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		closeQuietly(c)
		return fmt.Errorf("ctaphid: %s is in use: another process (another passkeyd?) is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("ctaphid: %s exists and may be in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ctaphid: failed to remove the stale socket %s: %w", path, err)
	}
	return nil
}

// unixListener is a listener whose socket file was linked to path.
type unixListener struct {
	*net.UnixListener
	path string
	file fs.FileInfo
}

var _ net.Listener = (*unixListener)(nil)

// Addr is the path clients dial.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close stops listening and removes the socket file, unless another
// process has replaced it meanwhile.
func (l *unixListener) Close() error {
	if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.file) {
		_ = os.Remove(l.path)
	}
	return l.UnixListener.Close()
}
