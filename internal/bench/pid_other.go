//go:build !linux

package bench

import "errors"

// DaemonPID is only known on Linux; elsewhere CPU figures are left out.
func DaemonPID(path string) (int, error) {
	return 0, errors.New("bench: the daemon's process is only found on Linux")
}
