//go:build linux

package ctaphid_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// The kernel's structs (include/uapi/linux/uhid.h), written out again here
// so that the test does not trust the package's offsets. binary.Write packs
// them like __attribute__((__packed__)).
type (
	uhidCreate2 struct {
		Type    uint32
		Name    [128]byte
		Phys    [64]byte
		Uniq    [64]byte
		RdSize  uint16
		Bus     uint16
		Vendor  uint32
		Product uint32
		Version uint32
		Country uint32
		RdData  [4096]byte
	}
	uhidOutputEvent struct {
		Type  uint32
		Data  [4096]byte
		Size  uint16
		Rtype uint8
	}
	uhidGetReportEvent struct {
		Type  uint32
		ID    uint32
		Rnum  uint8
		Rtype uint8
	}
)

const (
	uhidEventSize = 4376 // sizeof(struct uhid_event)
	evDestroy     = 1
	evStart       = 2
	evOpen        = 4
	evClose       = 5
	evOutput      = 6
	evGetReport   = 9
	evGetReply    = 10
	evCreate2     = 11
	evInput2      = 12
)

// The FIDO report descriptor of CTAP 2.1 §11.2.8.2, byte for byte.
var wantDescriptor = []byte{
	0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01,
	0x09, 0x20, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08, 0x95, 0x40, 0x81, 0x02,
	0x09, 0x21, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08, 0x95, 0x40, 0x91, 0x02,
	0xC0,
}

// fakeKernel is the kernel's end of /dev/uhid: a SOCK_SEQPACKET socket pair
// keeps one event per read and write, as uhid does.
type fakeKernel struct {
	t testing.TB
	f *os.File
}

func newFakeUHID(t testing.TB) (daemonEnd *os.File, kernel *fakeKernel) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		// Non-blocking, so that os.File uses the poller: Close then ends a
		// pending Read, and deadlines work.
		if err := syscall.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	kernel = &fakeKernel{t: t, f: os.NewFile(uintptr(fds[1]), "kernel")}
	t.Cleanup(func() { kernel.f.Close() })
	return os.NewFile(uintptr(fds[0]), "uhid"), kernel
}

func (k *fakeKernel) read() []byte {
	k.t.Helper()
	buf := make([]byte, 2*uhidEventSize)
	_ = k.f.SetReadDeadline(time.Now().Add(patience))
	n, err := k.f.Read(buf)
	if err != nil {
		k.t.Fatalf("read uhid event: %v", err)
	}
	return buf[:n]
}

// write sends an event padded to sizeof(struct uhid_event), as the kernel's
// read(2) into a large enough buffer does.
func (k *fakeKernel) write(ev any) {
	k.t.Helper()
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, ev); err != nil {
		k.t.Fatal(err)
	}
	b := append(buf.Bytes(), make([]byte, uhidEventSize-buf.Len())...)
	if _, err := k.f.Write(b); err != nil {
		k.t.Fatalf("write uhid event: %v", err)
	}
}

func (k *fakeKernel) writeType(typ uint32) { k.write(&struct{ Type uint32 }{typ}) }

// output delivers a report as hidraw does: with the report number 0 first,
// or, with withID false, as a bare 64-byte report.
func (k *fakeKernel) output(r ctaphid.Report, withID bool) {
	k.t.Helper()
	ev := uhidOutputEvent{Type: evOutput, Rtype: 1}
	data := r[:]
	if withID {
		data = append([]byte{0}, r[:]...)
	}
	ev.Size = uint16(copy(ev.Data[:], data))
	k.write(&ev)
}

// input reads a UHID_INPUT2 event and returns its report.
func (k *fakeKernel) input() ctaphid.Report {
	k.t.Helper()
	ev := k.read()
	if len(ev) < 6+64 || binary.NativeEndian.Uint32(ev) != evInput2 || binary.NativeEndian.Uint16(ev[4:]) != 64 {
		k.t.Fatalf("want UHID_INPUT2 of 64 bytes, got % x", ev[:min(len(ev), 16)])
	}
	var r ctaphid.Report
	copy(r[:], ev[6:])
	return r
}

func serveUHID(t *testing.T, h ctaphid.Handler) (*testServer, *fakeKernel, chan error) {
	ts := startServer(t, h)
	dev, kernel := newFakeUHID(t)
	done := make(chan error, 1)
	go func() { done <- ts.srv.ServeUHID(dev) }()
	return ts, kernel, done
}

func TestUHIDCreate2(t *testing.T) {
	t.Parallel()
	_, kernel, _ := serveUHID(t, echo)
	want := uhidCreate2{
		Type: evCreate2, RdSize: uint16(len(wantDescriptor)), Bus: 0x03,
		Vendor: ctaphid.UHIDVendor, Product: ctaphid.UHIDProduct,
	}
	copy(want.Name[:], "passkeyd virtual FIDO key")
	copy(want.Phys[:], "passkeyd")
	copy(want.RdData[:], wantDescriptor)
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.NativeEndian, &want)
	if buf.Len() != uhidEventSize {
		t.Fatalf("test struct is %d bytes, want %d", buf.Len(), uhidEventSize)
	}
	if got := kernel.read(); !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("UHID_CREATE2 differs from struct uhid_create2_req: got %d bytes, head % x", len(got), got[:64])
	}
}

// TestUHIDTraffic: output reports in, input reports out, control requests
// refused, and the device destroyed on Shutdown.
func TestUHIDTraffic(t *testing.T) {
	t.Parallel()
	ts, kernel, done := serveUHID(t, echo)
	kernel.read() // CREATE2
	kernel.writeType(evStart)
	kernel.writeType(evOpen)

	nonce := randomBytes(8)
	kernel.output(ctaphid.InitReport(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce), true)
	r := kernel.input()
	if r.CID() != ctaphid.BroadcastCID || r.Command() != ctaphid.CmdInit || r.Length() != 17 ||
		!bytes.Equal(r.Data()[:8], nonce) {
		t.Fatalf("INIT reply % x", r[:24])
	}
	cid := binary.BigEndian.Uint32(r.Data()[8:12])

	kernel.output(ctaphid.InitReport(cid, ctaphid.CmdPing, 3, []byte("abc")), false)
	if r := kernel.input(); r.CID() != cid || r.Command() != ctaphid.CmdPing || string(r.Data()[:3]) != "abc" {
		t.Fatalf("PING reply % x", r[:10])
	}

	kernel.write(&uhidGetReportEvent{Type: evGetReport, ID: 77, Rnum: 0, Rtype: 0})
	if ev := kernel.read(); binary.NativeEndian.Uint32(ev) != evGetReply ||
		binary.NativeEndian.Uint32(ev[4:]) != 77 || binary.NativeEndian.Uint16(ev[8:]) != 5 {
		t.Fatalf("GET_REPORT answered % x, want GET_REPORT_REPLY id 77 err EIO", ev[:12])
	}

	ts.shutdown(t)
	if ev := kernel.read(); len(ev) < 4 || binary.NativeEndian.Uint32(ev) != evDestroy {
		t.Fatalf("want UHID_DESTROY on shutdown, got % x", ev)
	}
	if err := <-done; !errors.Is(err, ctaphid.ErrServerClosed) {
		t.Fatalf("ServeUHID = %v, want ErrServerClosed", err)
	}
}

// TestUHIDSharesChannels: uhid and socket channels come from one allocator,
// and UHID_CLOSE abandons the request of a host that went away.
func TestUHIDSharesChannels(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts, kernel, _ := serveUHID(t, g)
	kernel.read()
	kernel.output(ctaphid.InitReport(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, randomBytes(8)), true)
	r := kernel.input()
	cid := binary.BigEndian.Uint32(r.Data()[8:12])

	sock := ts.raw(t)
	sock.sendInit(cid, ctaphid.CmdPing, 1, nil)
	sock.expectError(cid, ctaphid.ErrInvalidChannel)

	kernel.output(ctaphid.InitReport(cid, ctaphid.CmdCBOR, 1, []byte{4}), true)
	g.waitStarted(t)
	kernel.writeType(evClose)
	deadline := time.Now().Add(patience)
	for g.cancelled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g.cancelled.Load() != 1 {
		t.Fatal("UHID_CLOSE did not cancel the request in flight")
	}
	kernel.output(ctaphid.InitReport(cid, ctaphid.CmdPing, 2, []byte("ok")), true)
	for {
		r := kernel.input()
		if r.Command() == ctaphid.CmdKeepalive {
			continue
		}
		if r.Command() != ctaphid.CmdPing {
			t.Fatalf("after UHID_CLOSE got %s, want the PING reply and no CBOR reply", r.Command())
		}
		break
	}
}

func TestOpenUHIDErrors(t *testing.T) {
	t.Parallel()
	_, err := ctaphid.OpenUHID(filepath.Join(t.TempDir(), "no-uhid"))
	if !errors.Is(err, ctaphid.ErrUHIDUnavailable) || !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), "modprobe uhid") {
		t.Fatalf("missing device: %v", err)
	}
	denied := &ctaphid.UHIDError{Path: ctaphid.UHIDPath, Err: syscall.EACCES}
	for _, want := range []string{`KERNEL=="uhid"`, `MODE="0660"`, "GROUP=", "/dev/uhid"} {
		if !strings.Contains(denied.Error(), want) {
			t.Errorf("permission error %q does not mention %s", denied, want)
		}
	}
}

// TestServeUHIDAfterShutdown: a closed server refuses, and closes the device.
func TestServeUHIDAfterShutdown(t *testing.T) {
	t.Parallel()
	srv := ctaphid.NewServer(echo)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	dev, kernel := newFakeUHID(t)
	if err := srv.ServeUHID(dev); !errors.Is(err, ctaphid.ErrServerClosed) {
		t.Fatalf("ServeUHID = %v", err)
	}
	_ = kernel.f.SetReadDeadline(time.Now().Add(patience))
	if _, err := kernel.f.Read(make([]byte, 8)); err == nil {
		t.Fatal("the device was not closed")
	}
}
