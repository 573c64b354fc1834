package bench

import (
	"fmt"
	"net"
	"syscall"
)

// DaemonPID asks the kernel which process serves the Unix socket at path
// (SO_PEERCRED), so that its CPU time can be read from /proc.
func DaemonPID(path string) (int, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("bench: SO_PEERCRED: %w", credErr)
	}
	return int(cred.Pid), nil
}
