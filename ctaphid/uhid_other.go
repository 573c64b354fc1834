//go:build !linux

package ctaphid

import (
	"errors"
	"io"
)

// OpenUHID reports that uhid exists only on Linux: the error is a
// [*UHIDError] wrapping errors.ErrUnsupported.
func OpenUHID(path string) (io.ReadWriteCloser, error) {
	return nil, &UHIDError{Path: path, Err: errors.ErrUnsupported}
}
