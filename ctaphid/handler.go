// Package ctaphid implements the CTAPHID transport of CTAP 2.1 §11.2
// (64-byte reports, channels, INIT, PING, CBOR, MSG, CANCEL, KEEPALIVE,
// ERROR, WINK) and serves it over a Unix stream socket and the Linux
// /dev/uhid virtual HID device.
//
// # Serving
//
// A [Server] hands every CTAPHID_CBOR message to a [Handler] and answers
// everything else itself. [Server.Serve] takes a listener, normally from
// [ListenUnix]; [Server.ServeUHID] takes an open /dev/uhid from [OpenUHID].
// [Server.Shutdown] cancels requests in flight, delivers their replies and
// closes everything.
//
// # Host handles and channels
//
// Each socket connection is one host handle, and so is the uhid device,
// which every program on the host shares. A handle serves one transaction
// at a time: while a message arrives or a CBOR request runs, other channels
// of that handle get ERR_CHANNEL_BUSY (CTAP 2.1 §11.2.5.1). Handles are
// independent of each other. Channel IDs are random and unique across all
// handles of a server; a channel is usable only on the handle that
// allocated it with CTAPHID_INIT on the broadcast channel, and
// [ChannelFromContext] tells a Handler which one a request came on.
//
// # Timing
//
// A message whose next packet does not come within 500 ms gets
// ERR_MSG_TIMEOUT. While a Handler runs, KEEPALIVE goes out every 100 ms,
// with status UPNEEDED once the Handler has called userNeeded.
// CTAPHID_CANCEL cancels the Handler's context; its reply, normally
// CTAP2_ERR_KEEPALIVE_CANCEL, is sent as usual.
//
// # Framing
//
// [Report], [Fragment], the command, error and capability constants are the
// wire format, shared with clients.
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
