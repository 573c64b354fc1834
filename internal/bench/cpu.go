package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU time is a steadier measure than wall-clock time on a machine that
// other work shares: a run's CPU efficiency compares the CPU time the
// baseline spends per operation with the CPU time the daemon and the load
// clients spent per answer. On an otherwise idle machine whose cores the
// run keeps busy, it is close to the wall-clock ratio; under other load it
// barely moves while the wall-clock ratio swings.

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// processCPU is the user and system CPU time pid has used, from
// /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // from field 3, state
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU time of this process and, if pid is not 0, of
// the daemon, between start and stop.
type cpuMeter struct {
	pid          int
	self, daemon time.Duration
	err          error
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, self: selfCPU()}
	if pid != 0 {
		m.daemon, m.err = processCPU(pid)
	}
	return m
}

// stop returns the CPU time used since start, or nil when the daemon's
// could not be read.
func (m *cpuMeter) stop() *CPU {
	self := selfCPU() - m.self
	if m.pid == 0 || m.err != nil {
		return nil
	}
	d, err := processCPU(m.pid)
	if err != nil {
		return nil
	}
	return &CPU{DaemonSeconds: (d - m.daemon).Seconds(), ClientSeconds: self.Seconds()}
}

// CPU is the CPU time a run used.
type CPU struct {
	DaemonSeconds float64 `json:"daemonSeconds"`
	ClientSeconds float64 `json:"clientSeconds"` // the load clients, in this process
}
