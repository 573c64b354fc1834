package ctaphid

import "encoding/binary"

// dispatch runs a complete message received on an allocated channel
// (CTAP 2.1 §11.2.9). data may alias a transport buffer.
func (d *device) dispatch(cid uint32, cmd Command, data []byte) {
	d.logMessage("ctaphid request", cid, cmd, len(data))
	switch cmd {
	case CmdPing:
		d.reply(cid, CmdPing, data)
	case CmdInit:
		d.answerInit(cid, data, cid)
	case CmdWink:
		d.wink(cid)
	case CmdCBOR:
		d.startCBOR(cid, data)
	case CmdCancel:
		// Nothing runs on this channel, and CANCEL is never answered.
	default:
		// CTAPHID_MSG lands here too: the NMSG capability says U2F is not
		// implemented, and CTAP 2.1 §11.2.9.1.1 then wants ERR_INVALID_CMD.
		d.sendError(cid, ErrInvalidCmd)
	}
}

// answerInit sends the CTAPHID_INIT response (CTAP 2.1 §11.2.9.1.3) on cid,
// naming channel newCID.
func (d *device) answerInit(cid uint32, nonce []byte, newCID uint32) {
	if len(nonce) != InitNonceSize {
		d.sendError(cid, ErrInvalidLen)
		return
	}
	resp := make([]byte, InitResponseSize)
	copy(resp, nonce)
	binary.BigEndian.PutUint32(resp[8:12], newCID)
	resp[12] = ProtocolVersion
	copy(resp[13:16], d.e.version[:])
	resp[16] = d.e.capabilities()
	d.reply(cid, CmdInit, resp)
}

// wink answers CTAPHID_WINK (CTAP 2.1 §11.2.9.2.1) when the handler can
// wink. Wink runs outside the device lock, one at a time per server, so that
// a slow or flooded one blocks nobody.
func (d *device) wink(cid uint32) {
	if d.e.winker == nil {
		d.sendError(cid, ErrInvalidCmd)
		return
	}
	if d.e.winking.CompareAndSwap(false, true) && !d.e.goTask(d.callWink) {
		d.e.winking.Store(false)
	}
	d.reply(cid, CmdWink, nil)
}

// callWink runs the handler's Wink and lets the next WINK through.
func (d *device) callWink() {
	defer d.e.winking.Store(false)
	d.e.winker.Wink()
}
