package ctaphid

import "encoding/binary"

// The uhid ABI, from the kernel's include/uapi/linux/uhid.h (torvalds/linux)
// and Documentation/hid/uhid.rst. Every event is "struct uhid_event": a
// __u32 type followed by a packed union; integers are in host byte order.
// One read(2) or write(2) carries exactly one event; short writes are
// extended with zeros by the kernel, short reads by us.

// enum uhid_event_type (uhid.h). Values 0, 7 and 8 are the legacy
// UHID_CREATE, UHID_OUTPUT_EV and UHID_INPUT.
const (
	uhidDestroy        = 1
	uhidStart          = 2
	uhidStop           = 3
	uhidOpen           = 4
	uhidClose          = 5
	uhidOutput         = 6
	uhidGetReport      = 9
	uhidGetReportReply = 10
	uhidCreate2        = 11
	uhidInput2         = 12
	uhidSetReport      = 13
	uhidSetReportReply = 14
)

// Sizes from uhid.h and include/linux/hid.h.
const (
	uhidDataMax          = 4096 // UHID_DATA_MAX
	hidMaxDescriptorSize = 4096 // HID_MAX_DESCRIPTOR_SIZE
	// sizeof(struct uhid_create2_req), the largest union member:
	// name[128] phys[64] uniq[64] rd_size(2) bus(2) vendor(4) product(4)
	// version(4) country(4) rd_data[4096].
	uhidCreate2Size = 128 + 64 + 64 + 2 + 2 + 4 + 4 + 4 + 4 + hidMaxDescriptorSize
	// uhidEventSize is sizeof(struct uhid_event), 4376 bytes.
	uhidEventSize = 4 + uhidCreate2Size
	// uhidReplyEventSize covers struct uhid_get_report_reply_req up to its
	// data: id(4) err(2) size(2).
	uhidReplyEventSize = 4 + 4 + 2 + 2
)

// Offsets in an event of struct uhid_create2_req fields.
const (
	create2NameOff    = 4
	create2PhysOff    = create2NameOff + 128
	create2UniqOff    = create2PhysOff + 64
	create2RdSizeOff  = create2UniqOff + 64
	create2BusOff     = create2RdSizeOff + 2
	create2VendorOff  = create2BusOff + 2
	create2ProductOff = create2VendorOff + 4
	create2VersionOff = create2ProductOff + 4
	create2CountryOff = create2VersionOff + 4
	create2RdDataOff  = create2CountryOff + 4
)

// Offsets in an event of struct uhid_output_req: data[4096] size(2) rtype(1).
const (
	uhidOutputDataOff  = 4
	uhidOutputSizeOff  = uhidOutputDataOff + uhidDataMax
	uhidOutputRtypeOff = uhidOutputSizeOff + 2
)

// enum uhid_report_type (uhid.h): UHID_OUTPUT_REPORT.
const uhidOutputReport = 1

// busUSB is BUS_USB from include/uapi/linux/input.h.
const busUSB = 0x03

// errnoEIO is the err of a refused GET_REPORT or SET_REPORT, as uhid.rst
// asks.
const errnoEIO = 5

// uhidCreate2Event returns the UHID_CREATE2 event for the FIDO device.
func uhidCreate2Event() []byte {
	ev := make([]byte, uhidEventSize)
	binary.NativeEndian.PutUint32(ev[0:], uhidCreate2)
	copy(ev[create2NameOff:create2NameOff+127], UHIDName)
	copy(ev[create2PhysOff:create2PhysOff+63], "passkeyd")
	binary.NativeEndian.PutUint16(ev[create2RdSizeOff:], uint16(len(fidoReportDescriptor)))
	binary.NativeEndian.PutUint16(ev[create2BusOff:], busUSB)
	binary.NativeEndian.PutUint32(ev[create2VendorOff:], UHIDVendor)
	binary.NativeEndian.PutUint32(ev[create2ProductOff:], UHIDProduct)
	copy(ev[create2RdDataOff:], fidoReportDescriptor)
	return ev
}

// uhidInput2Event returns the UHID_INPUT2 event carrying one report:
// type(4) size(2) data. The rest of struct uhid_input2_req is left to the
// kernel's zero extension.
func uhidInput2Event(r *Report) []byte {
	ev := make([]byte, 4+2+ReportSize)
	binary.NativeEndian.PutUint32(ev[0:], uhidInput2)
	binary.NativeEndian.PutUint16(ev[4:], ReportSize)
	copy(ev[6:], r[:])
	return ev
}
