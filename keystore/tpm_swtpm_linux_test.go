package keystore

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill swtpm if the test binary dies first
// (a timeout, a SIGKILL), so no swtpm outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
