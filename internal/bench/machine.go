package bench

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine says where figures were taken.
type Machine struct {
	CPUs       int    `json:"cpus"`       // logical CPUs (nproc)
	GOMAXPROCS int    `json:"gomaxprocs"` // of the bench process
	CPUModel   string `json:"cpuModel"`   // /proc/cpuinfo "model name"
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	GoVersion  string `json:"goVersion"` // of the bench binary
	Date       string `json:"date"`      // UTC, RFC 3339
	// LoadAvg is the 1, 5 and 15 minute load averages when the report was
	// started: figures taken with a load above the CPU count are shared
	// with other work.
	LoadAvg string `json:"loadAvg,omitempty"`
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	return Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		Date: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadAvg()}
}

// loadAvg is the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
