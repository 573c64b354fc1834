//go:build linux

package ctaphid

import (
	"io"
	"os"
)

// OpenUHID opens the uhid device at path (normally [UHIDPath]) for
// [Server.ServeUHID]. When it is missing or not writable, the error is a
// [*UHIDError] that says what to do.
func OpenUHID(path string) (io.ReadWriteCloser, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, &UHIDError{Path: path, Err: unwrapPathError(err)}
	}
	return f, nil
}

// unwrapPathError drops the *os.PathError wrapper, whose path UHIDError
// already names.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
