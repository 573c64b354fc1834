// Package ctaphid implements the CTAPHID transport of CTAP 2.1 §11.2
// (64-byte reports, channels, INIT, PING, CBOR, MSG, CANCEL, KEEPALIVE,
// ERROR, WINK) and serves it over a Unix stream socket and the Linux
// /dev/uhid virtual HID device.
package ctaphid

import "context"

// Handler answers CTAP2 messages. ctaphid never looks inside them.
type Handler interface {
	// ServeCTAP handles one CTAPHID_CBOR message: req is the CTAP command byte
	// followed by its CBOR parameters; the reply is a CTAP status byte followed
	// by the CBOR response, if any. ctx is cancelled when the host sends
	// CTAPHID_CANCEL on the channel, the connection closes or the server shuts
	// down; the handler then answers CTAP2_ERR_KEEPALIVE_CANCEL (0x2D).
	// userNeeded is called when the handler starts waiting for the user, and
	// switches the KEEPALIVE status from PROCESSING to UPNEEDED.
	ServeCTAP(ctx context.Context, req []byte, userNeeded func()) []byte
}

// Winker is an optional Handler ability: CTAPHID_WINK.
type Winker interface {
	Wink()
}
