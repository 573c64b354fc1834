package keystore

import (
	"bufio"
	"crypto/ecdsa"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The crash test: a child process registers credentials in a loop and
// counts on one of them, printing each ID or counter once the call has
// returned; it is killed with SIGKILL at a random moment. After each kill
// the store must open cleanly, hold every printed credential with a key
// that signs, and count above every printed counter. The rounds share one
// state directory, so later rounds start from a store that survived crashes.

const crashDirEnv = "PASSKEYD_TEST_CRASH_DIR"

// crashLog is what the parent learnt from the children's output.
type crashLog struct {
	created  map[string]bool   // hex ID → printed after Create returned
	counters map[string]uint32 // hex ID → highest counter printed
}

func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	dir := t.TempDir()
	log := crashLog{created: map[string]bool{}, counters: map[string]uint32{}}
	for round := range rounds {
		fresh := runCrashChild(t, dir, &log)
		checkAfterCrash(t, dir, &log, fresh)
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
	t.Logf("%d rounds, %d credentials and %d counted credentials survived", rounds, len(log.created), len(log.counters))
	checkAfterCrash(t, dir, &log, nil)
}

// runCrashChild runs one child until a random moment after its first
// registration, kills it, and returns the IDs it registered.
func runCrashChild(t *testing.T, dir string, log *crashLog) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines, first := make(chan []string, 1), make(chan struct{})
	go func() { lines <- readCrashOutput(out, first) }()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child registered nothing in 10s")
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	return log.add(t, <-lines)
}

// readCrashOutput collects complete lines; the line cut by the kill is dropped.
func readCrashOutput(out interface{ Read([]byte) (int, error) }, first chan struct{}) []string {
	var lines []string
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return lines
		}
		if len(lines) == 0 {
			close(first)
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
}

func (l *crashLog) add(t *testing.T, lines []string) []string {
	var fresh []string
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "C":
			l.created[f[1]] = true
			fresh = append(fresh, f[1])
		case len(f) == 3 && f[0] == "N":
			v, _ := strconv.ParseUint(f[2], 10, 32)
			l.counters[f[1]] = max(l.counters[f[1]], uint32(v))
		default:
			t.Fatalf("unexpected child output %q", line)
		}
	}
	return fresh
}

// checkAfterCrash opens the store and checks it against the log: fresh
// credentials must sign, all must be present, counters must go on above
// every printed value.
func checkAfterCrash(t *testing.T, dir string, log *crashLog, fresh []string) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("the store does not open after a crash: %v", err)
	}
	defer db.Close()
	checkBolt(t, db)
	sealer, err := NewFileSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	for id := range log.created {
		raw, _ := hex.DecodeString(id)
		if _, err := db.Credential(raw); err != nil {
			t.Errorf("credential %s, registered before the crash: %v", id, err)
		}
	}
	for _, id := range fresh {
		raw, _ := hex.DecodeString(id)
		r := mustCredential(t, db, raw)
		signer, err := sealer.Signer(r.ID, r.SealedKey)
		if err != nil {
			t.Fatalf("credential %s: %v", id, err)
		}
		verifyWithStoredKey(t, signer, r.PublicKey)
	}
	for id, last := range log.counters {
		raw, _ := hex.DecodeString(id)
		c := mustNextCounter(t, db, raw)
		if c <= last {
			t.Errorf("credential %s: counter %d after the crash, %d was handed out before", id, c, last)
		}
		log.counters[id] = c
	}
}

// checkBolt runs bbolt's consistency check.
func checkBolt(t *testing.T, db *DB) {
	t.Helper()
	db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
}

// TestCrashChild is the child of TestCrashRecovery; it runs until killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	db, err := Open(dir, LockTimeout(5*time.Second), CounterWindow(16))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := NewFileSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	counted := make(chan []byte, 1)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { registerUntilKilled(t, db, sealer, w, counted) })
	}
	wg.Go(func() { countUntilKilled(t, db, <-counted) })
	wg.Wait()
}

func registerUntilKilled(t *testing.T, db *DB, sealer *FileSealer, worker int, counted chan<- []byte) {
	for n := 0; ; n++ {
		id := make([]byte, 16)
		crand.Read(id)
		sealed, signer, err := sealer.NewKey(id)
		if err != nil {
			t.Error(err)
			return
		}
		pub, _ := signer.Public().(*ecdsa.PublicKey).Bytes()
		r := &Record{ID: id, RPID: fmt.Sprintf("rp%d.example", n%7), PublicKey: pub, SealedKey: sealed, Created: time.Now()}
		if err := db.Create(r); err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(os.Stdout, "C %x\n", id)
		if worker == 0 && n == 0 {
			counted <- id
		}
	}
}

func countUntilKilled(t *testing.T, db *DB, id []byte) {
	for {
		c, err := db.NextCounter(id)
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(os.Stdout, "N %x %d\n", id, c)
	}
}
