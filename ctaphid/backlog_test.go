package ctaphid

import (
	"log/slog"
	"testing"
	"time"
)

// TestTimeoutWaitsForBufferedReports: a message whose next packets already
// wait in the transport's buffer has not stalled, however late its reader
// is; only a message with nothing behind it times out.
func TestTimeoutWaitsForBufferedReports(t *testing.T) {
	sink := &replySink{}
	e := newEngine(fuzzHandler{}, slog.New(slog.DiscardHandler))
	t.Cleanup(e.stop) // ends the watchdog
	e.msgTimeout = 30 * time.Millisecond
	d := e.newDevice(sink.send)
	defer d.close()
	cid := allocateFor(d, sink)
	before := len(sink.reports())

	first := InitReport(cid, CmdPing, 100, make([]byte, InitDataSize))
	d.backlog.Store(true) // the reader holds the rest but is slow to hand it over
	d.receive(&first)
	time.Sleep(4 * e.msgTimeout)
	if got := sink.reports()[before:]; len(got) != 0 {
		t.Fatalf("timed out a message whose packets had arrived: %x", got[0][:8])
	}
	d.backlog.Store(false) // nothing more is coming
	deadline := time.Now().Add(2 * time.Second)
	for len(sink.reports()) == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := sink.reports()[before:]
	if len(got) != 1 || got[0].Command() != CmdError || got[0].Data()[0] != byte(ErrMsgTimeout) {
		t.Fatalf("a stalled message got %d replies, want one ERR_MSG_TIMEOUT", len(got))
	}
}
