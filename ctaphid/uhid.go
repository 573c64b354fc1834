package ctaphid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// Identity of the virtual FIDO device created through /dev/uhid. Browsers
// and libfido2 recognise a FIDO device by the usage page of its report
// descriptor (CTAP 2.1 §11.2.8.2), not by its vendor and product IDs.
const (
	// UHIDPath is where Linux exposes uhid.
	UHIDPath = "/dev/uhid"
	// UHIDName is the device name hosts show.
	UHIDName = "passkeyd virtual FIDO key"
	// UHIDVendor is pid.codes' vendor ID for open-source projects.
	UHIDVendor = 0x1209
	// UHIDProduct is pid.codes' test product ID 0x0001, meant for private
	// use and never for a product sold.
	UHIDProduct = 0x0001
)

// fidoReportDescriptor declares one 64-byte input report (usage 0x20) and one
// 64-byte output report (usage 0x21) in an application collection of usage
// page 0xF1D0 (FIDO Alliance), usage 0x01 (CTAPHID), and no report IDs
// (CTAP 2.1 §11.2.8.2).
var fidoReportDescriptor = []byte{
	0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance, 0xF1D0)
	0x09, 0x01, //       Usage (CTAPHID authenticator device)
	0xA1, 0x01, //       Collection (Application)
	0x09, 0x20, //         Usage (Input Report Data)
	0x15, 0x00, //         Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //         Report Size (8)
	0x95, 0x40, //         Report Count (64)
	0x81, 0x02, //         Input (Data, Var, Abs)
	0x09, 0x21, //         Usage (Output Report Data)
	0x15, 0x00, //         Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //         Report Size (8)
	0x95, 0x40, //         Report Count (64)
	0x91, 0x02, //         Output (Data, Var, Abs)
	0xC0, //             End Collection
}

// ErrUHIDUnavailable matches every [UHIDError] with errors.Is.
var ErrUHIDUnavailable = errors.New("ctaphid: uhid is unavailable")

// UHIDError says why /dev/uhid cannot be used and what to do about it. The
// daemon prints it and goes on serving its socket.
type UHIDError struct {
	Path string
	Err  error
}

// Error is one line: what failed, and how to fix it.
func (e *UHIDError) Error() string {
	return fmt.Sprintf("ctaphid: failed to open %s: %v; %s", e.Path, e.Err, e.Fix())
}

// Fix is the advice for the person running the daemon.
func (e *UHIDError) Fix() string {
	switch {
	case errors.Is(e.Err, errors.ErrUnsupported):
		return "the virtual HID device needs Linux; use ctaphid.sock instead"
	case errors.Is(e.Err, fs.ErrNotExist):
		return "load the uhid kernel module: sudo modprobe uhid " +
			"(and at every boot: echo uhid | sudo tee /etc/modules-load.d/uhid.conf)"
	case errors.Is(e.Err, fs.ErrPermission):
		return "let a group open it: echo 'KERNEL==\"uhid\", GROUP=\"passkeyd\", MODE=\"0660\"' " +
			"| sudo tee /etc/udev/rules.d/70-passkeyd-uhid.rules; sudo groupadd -f passkeyd; " +
			"sudo usermod -aG passkeyd $USER; sudo udevadm control --reload; sudo udevadm trigger; " +
			"then log in again, or run passkeyd as a user in that group"
	}
	return "check that the uhid module is loaded (sudo modprobe uhid) and that " +
		"this user may open " + e.Path + " for reading and writing"
}

// Unwrap returns the underlying error.
func (e *UHIDError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUHIDUnavailable].
func (e *UHIDError) Is(target error) bool { return target == ErrUHIDUnavailable }

var _ error = (*UHIDError)(nil)

// uhidDevice is the virtual FIDO device: one host handle shared by every
// program that opens its hidraw node.
type uhidDevice struct {
	s         *Server
	rw        io.ReadWriteCloser
	dev       *device
	wmu       sync.Mutex // one event per write(2)
	destroyed bool
	once      sync.Once
}

// ServeUHID creates the virtual FIDO device on rw, an open /dev/uhid (see
// [OpenUHID]) or anything that speaks its events, and serves it until
// [Server.Shutdown] or a read error. The device is one host handle whose
// channels share the server's allocator. On return the device has been
// destroyed (UHID_DESTROY) and rw closed. It returns [ErrServerClosed]
// after Shutdown.
func (s *Server) ServeUHID(rw io.ReadWriteCloser) error {
	u, err := s.startUHID(rw)
	if err != nil {
		closeQuietly(rw)
		return err
	}
	defer s.wg.Done()
	err = u.readLoop()
	u.finish()
	s.mu.Lock()
	delete(s.uhids, u)
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrServerClosed
	}
	return err
}

// startUHID registers the device with the server and creates it.
func (s *Server) startUHID(rw io.ReadWriteCloser) (*uhidDevice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrServerClosed
	}
	u := &uhidDevice{s: s, rw: rw}
	if err := u.writeEvent(uhidCreate2Event()); err != nil {
		return nil, fmt.Errorf("ctaphid: failed to create the uhid device: %w", err)
	}
	u.dev = s.e.newDevice(u.sendReports)
	s.uhids[u] = struct{}{}
	s.wg.Add(1)
	return u, nil
}

// readLoop handles kernel events until reading fails.
func (u *uhidDevice) readLoop() error {
	buf := make([]byte, uhidEventSize)
	for {
		n, err := u.rw.Read(buf)
		if err != nil {
			return fmt.Errorf("ctaphid: failed to read from uhid: %w", err)
		}
		// Short events are to be extended with zeros (uhid.h).
		clear(buf[n:])
		if n >= 4 {
			u.handle(buf)
		}
	}
}

// handle reacts to one kernel event (Documentation/hid/uhid.rst, "read()").
func (u *uhidDevice) handle(ev []byte) {
	switch typ := binary.NativeEndian.Uint32(ev); typ {
	case uhidOutput:
		u.output(ev)
	case uhidGetReport:
		u.refuseReport(uhidGetReportReply, ev)
	case uhidSetReport:
		u.refuseReport(uhidSetReportReply, ev)
	case uhidClose:
		// The last program closed the device: nobody waits for replies.
		u.dev.reset()
	case uhidStart, uhidStop, uhidOpen:
		u.s.log.Debug("ctaphid uhid event", "type", typ)
	}
}

// output feeds an output report to the device.
func (u *uhidDevice) output(ev []byte) {
	size := int(binary.NativeEndian.Uint16(ev[uhidOutputSizeOff:]))
	if ev[uhidOutputRtypeOff] != uhidOutputReport {
		return
	}
	r, ok := outputReport(ev[uhidOutputDataOff : uhidOutputDataOff+min(size, uhidDataMax)])
	if !ok {
		u.s.log.Debug("ctaphid uhid output report of unexpected size", "len", size)
		return
	}
	u.dev.receive(&r)
}

// outputReport extracts the 64-byte report from UHID_OUTPUT data. Hosts
// write the report number first, 0 when the descriptor has no report IDs
// (Documentation/hid/hidraw.rst, "write()"). hidraw passes it on and uhid
// copies it as is (drivers/hid/uhid.c, uhid_hid_output_raw), unlike usbhid,
// which strips it; psanford/tpm-fido skips it likewise. A 64-byte report
// without it is taken as is.
func outputReport(data []byte) (Report, bool) {
	var r Report
	switch {
	case len(data) == ReportSize+1 && data[0] == 0:
		copy(r[:], data[1:])
	case len(data) == ReportSize:
		copy(r[:], data)
	default:
		return r, false
	}
	return r, true
}

// refuseReport answers GET_REPORT and SET_REPORT with EIO: FIDO uses no
// control-channel reports, and the kernel would otherwise wait for an answer.
func (u *uhidDevice) refuseReport(replyType uint32, ev []byte) {
	reply := make([]byte, uhidReplyEventSize)
	binary.NativeEndian.PutUint32(reply[0:], replyType)
	copy(reply[4:8], ev[4:8]) // the request's id
	binary.NativeEndian.PutUint16(reply[8:], errnoEIO)
	if err := u.writeEvent(reply); err != nil {
		u.s.log.Debug("ctaphid uhid reply failed", "err", err)
	}
}

// sendReports is the device's send: one UHID_INPUT2 event per report.
func (u *uhidDevice) sendReports(msg []byte) bool {
	for len(msg) >= ReportSize {
		if err := u.writeEvent(uhidInput2Event((*Report)(msg[:ReportSize]))); err != nil {
			u.s.log.Warn("ctaphid uhid write failed", "err", err)
			return false
		}
		msg = msg[ReportSize:]
	}
	return true
}

// writeEvent writes one whole event, as uhid requires.
func (u *uhidDevice) writeEvent(ev []byte) error {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	if u.destroyed {
		return ErrServerClosed
	}
	_, err := u.rw.Write(ev)
	return err
}

// finish closes the device, destroys it in the kernel and closes rw, which
// ends the read loop.
func (u *uhidDevice) finish() {
	u.once.Do(func() {
		u.dev.close()
		destroy := make([]byte, 4)
		binary.NativeEndian.PutUint32(destroy, uhidDestroy)
		if err := u.writeEvent(destroy); err != nil {
			u.s.log.Debug("ctaphid uhid destroy failed", "err", err)
		}
		u.wmu.Lock()
		u.destroyed = true
		u.wmu.Unlock()
		closeQuietly(u.rw)
	})
}
