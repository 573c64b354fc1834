package testenv

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill cmd if the test binary dies first, so no
// swtpm outlives a killed test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
