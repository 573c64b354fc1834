package ctaphid

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Sizes of CTAPHID framing, CTAP 2.1 §11.2.4 "Message and packet structure".
const (
	// ReportSize is the size of one HID report: one CTAPHID packet. Reports
	// carry no report-ID byte.
	ReportSize = 64
	// InitDataSize is the payload of an initialization packet.
	InitDataSize = ReportSize - 7
	// ContDataSize is the payload of a continuation packet.
	ContDataSize = ReportSize - 5
	// MaxSeq is the last continuation sequence number.
	MaxSeq = 0x7F
	// MaxMessageSize is the largest message: one initialization packet and
	// 128 continuation packets, 57 + 128×59 = 7609 bytes.
	MaxMessageSize = InitDataSize + (MaxSeq+1)*ContDataSize
)

// BroadcastCID is the channel on which CTAPHID_INIT allocates channels
// (CTAP 2.1 §11.2.3). Channel 0 is reserved and never valid.
const BroadcastCID uint32 = 0xFFFFFFFF

// Command is a CTAPHID command byte with its top bit set, as it appears in an
// initialization packet (CTAP 2.1 §11.2.9).
type Command byte

// CTAPHID commands, CTAP 2.1 §11.2.9.1 (mandatory) and §11.2.9.2 (optional).
const (
	CmdPing      Command = 0x81 // §11.2.9.1.4, echo
	CmdMsg       Command = 0x83 // §11.2.9.1.1, U2F APDU (unsupported here)
	CmdLock      Command = 0x84 // §11.2.9.2.2, optional (unsupported here)
	CmdInit      Command = 0x86 // §11.2.9.1.3, allocate or resync a channel
	CmdWink      Command = 0x88 // §11.2.9.2.1, optional
	CmdCBOR      Command = 0x90 // §11.2.9.1.2, one CTAP2 message
	CmdCancel    Command = 0x91 // §11.2.9.1.5, cancel the pending CBOR request
	CmdKeepalive Command = 0xBB // §11.2.9.1.7, sent by the authenticator
	CmdError     Command = 0xBF // §11.2.9.1.6, sent by the authenticator
)

var commandNames = map[Command]string{
	CmdPing: "PING", CmdMsg: "MSG", CmdLock: "LOCK", CmdInit: "INIT",
	CmdWink: "WINK", CmdCBOR: "CBOR", CmdCancel: "CANCEL",
	CmdKeepalive: "KEEPALIVE", CmdError: "ERROR",
}

// String returns the specification's name without its prefix, e.g. "CBOR".
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("0x%02X", byte(c))
}

// ErrorCode is the payload of a CTAPHID_ERROR response (CTAP 2.1
// §11.2.9.1.6). It is an error, so errors.Is matches a code wrapped with
// context.
type ErrorCode byte

// CTAPHID error codes, CTAP 2.1 §11.2.9.1.6.
const (
	ErrInvalidCmd     ErrorCode = 0x01 // the command is unknown or unsupported
	ErrInvalidPar     ErrorCode = 0x02 // a parameter is invalid
	ErrInvalidLen     ErrorCode = 0x03 // the length field (BCNT) is invalid
	ErrInvalidSeq     ErrorCode = 0x04 // a continuation packet is out of sequence
	ErrMsgTimeout     ErrorCode = 0x05 // the message was not completed in time
	ErrChannelBusy    ErrorCode = 0x06 // another channel holds the device
	ErrLockRequired   ErrorCode = 0x0A // the device is locked to another channel
	ErrInvalidChannel ErrorCode = 0x0B // the channel is reserved or not allocated
	ErrOther          ErrorCode = 0x7F // anything else
)

var errorNames = map[ErrorCode]string{
	ErrInvalidCmd: "ERR_INVALID_CMD", ErrInvalidPar: "ERR_INVALID_PAR",
	ErrInvalidLen: "ERR_INVALID_LEN", ErrInvalidSeq: "ERR_INVALID_SEQ",
	ErrMsgTimeout: "ERR_MSG_TIMEOUT", ErrChannelBusy: "ERR_CHANNEL_BUSY",
	ErrLockRequired: "ERR_LOCK_REQUIRED", ErrInvalidChannel: "ERR_INVALID_CHANNEL",
	ErrOther: "ERR_OTHER",
}

// Name is the specification's name for the code, e.g. "ERR_CHANNEL_BUSY".
func (e ErrorCode) Name() string {
	if n, ok := errorNames[e]; ok {
		return n
	}
	return fmt.Sprintf("ERR_0x%02X", byte(e))
}

// Error implements error.
func (e ErrorCode) Error() string { return "ctaphid: " + e.Name() }

var _ error = ErrorCode(0)

// KEEPALIVE status bytes, CTAP 2.1 §11.2.9.1.7.
const (
	StatusProcessing byte = 1 // the authenticator is still working
	StatusUPNeeded   byte = 2 // the authenticator waits for the user
)

// Capability flags in the CTAPHID_INIT response, CTAP 2.1 §11.2.9.1.3.
const (
	CapWink byte = 0x01 // CTAPHID_WINK is implemented
	CapLock byte = 0x02 // CTAPHID_LOCK is implemented
	CapCBOR byte = 0x04 // CTAPHID_CBOR is implemented
	CapNMSG byte = 0x08 // CTAPHID_MSG is NOT implemented
)

// ProtocolVersion is the CTAPHID protocol version in the INIT response.
const ProtocolVersion = 2

// InitNonceSize is the size of the CTAPHID_INIT nonce; InitResponseSize the
// size of the response: nonce(8) ‖ CID(4) ‖ version ‖ major ‖ minor ‖ build ‖
// capabilities.
const (
	InitNonceSize    = 8
	InitResponseSize = 17
)

// Report is one 64-byte CTAPHID packet (CTAP 2.1 §11.2.4). An initialization
// packet is CID(4, big-endian) ‖ CMD(1, bit 7 set) ‖ BCNTH ‖ BCNTL ‖ data(57);
// a continuation packet is CID(4) ‖ SEQ(1, bit 7 clear) ‖ data(59).
type Report [ReportSize]byte

// CID is the channel the packet belongs to.
func (r *Report) CID() uint32 { return binary.BigEndian.Uint32(r[0:4]) }

// IsInit reports whether r is an initialization packet.
func (r *Report) IsInit() bool { return r[4]&0x80 != 0 }

// Command is the command of an initialization packet.
func (r *Report) Command() Command { return Command(r[4]) }

// Length is the message length (BCNT) announced by an initialization packet.
func (r *Report) Length() int { return int(binary.BigEndian.Uint16(r[5:7])) }

// Seq is the sequence number of a continuation packet.
func (r *Report) Seq() byte { return r[4] }

// Data is the payload area of the packet, padding included.
func (r *Report) Data() []byte {
	if r.IsInit() {
		return r[7:]
	}
	return r[5:]
}

// InitReport returns an initialization packet announcing a message of length
// bcnt; data beyond InitDataSize is cut off.
func InitReport(cid uint32, cmd Command, bcnt int, data []byte) Report {
	var r Report
	binary.BigEndian.PutUint32(r[0:4], cid)
	r[4] = byte(cmd) | 0x80
	binary.BigEndian.PutUint16(r[5:7], uint16(bcnt))
	copy(r[7:], data)
	return r
}

// ContReport returns a continuation packet; data beyond ContDataSize is cut
// off.
func ContReport(cid uint32, seq byte, data []byte) Report {
	var r Report
	binary.BigEndian.PutUint32(r[0:4], cid)
	r[4] = seq & MaxSeq
	copy(r[5:], data)
	return r
}

// Fragment splits a message into the packets that carry it (CTAP 2.1
// §11.2.4). It returns ErrInvalidLen for a message longer than
// MaxMessageSize.
func Fragment(cid uint32, cmd Command, msg []byte) ([]Report, error) {
	if len(msg) > MaxMessageSize {
		return nil, ErrInvalidLen
	}
	out := make([]Report, reportCount(len(msg)))
	for i := range out {
		out[i].setPacket(cid, cmd, msg, i)
	}
	return out, nil
}

// AppendMessage appends the packets that carry a message (CTAP 2.1 §11.2.4)
// to dst, back to back, as a stream transport sends them. It returns
// ErrInvalidLen for a message longer than MaxMessageSize.
func AppendMessage(dst []byte, cid uint32, cmd Command, msg []byte) ([]byte, error) {
	if len(msg) > MaxMessageSize {
		return dst, ErrInvalidLen
	}
	n := reportCount(len(msg))
	dst = slices.Grow(dst, n*ReportSize)
	for i := range n {
		dst = dst[:len(dst)+ReportSize]
		(*Report)(dst[len(dst)-ReportSize:]).setPacket(cid, cmd, msg, i)
	}
	return dst, nil
}

// reportCount is the number of packets that carry a message of n bytes.
func reportCount(n int) int {
	if n <= InitDataSize {
		return 1
	}
	return 1 + (n-InitDataSize+ContDataSize-1)/ContDataSize
}

// setPacket makes r packet i of the reportCount(len(msg)) packets that carry
// msg: the initialization packet, then continuation packets from seq 0.
func (r *Report) setPacket(cid uint32, cmd Command, msg []byte, i int) {
	if i == 0 {
		*r = InitReport(cid, cmd, len(msg), msg)
		return
	}
	*r = ContReport(cid, byte(i-1), msg[InitDataSize+(i-1)*ContDataSize:])
}
