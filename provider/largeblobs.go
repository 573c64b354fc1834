package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"

	"github.com/passkeyd/passkeyd/ctap"
)

// maxFragment is the largest get or set fragment (CTAP 2.1 §6.10:
// maxFragmentLength = maxMsgSize − 64).
const maxFragment = MaxMsgSize - 64

// emptyLargeBlobArray is the initial serialized array: an empty CBOR array
// followed by LEFT(SHA-256(0x80), 16) (CTAP 2.1 §6.10.2).
var emptyLargeBlobArray = func() []byte {
	h := sha256.Sum256([]byte{0x80})
	return append([]byte{0x80}, h[:16]...)
}()

// blobWrite is a large-blob array being written in fragments.
type blobWrite struct {
	expected int
	buf      []byte
}

// LargeBlobs is authenticatorLargeBlobs (CTAP 2.1 §6.10).
func (p *Provider) LargeBlobs(ctx context.Context, req *ctap.LargeBlobsRequest) (*ctap.LargeBlobsResponse, error) {
	if (req.Get == nil) == (req.Set == nil) {
		return nil, ctap.Errorf(ctap.ErrInvalidParameter, "exactly one of get and set must be present")
	}
	if req.Offset == nil {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "offset is missing")
	}
	if req.Get != nil {
		return p.getBlobs(req)
	}
	return nil, p.setBlobs(ctx, req)
}

func (p *Provider) storedBlobs() ([]byte, error) {
	b, err := p.store.LargeBlobs()
	if err != nil {
		return nil, p.internal("cannot read large blobs", err)
	}
	if b == nil {
		b = emptyLargeBlobArray
	}
	return b, nil
}

func (p *Provider) getBlobs(req *ctap.LargeBlobsRequest) (*ctap.LargeBlobsResponse, error) {
	if req.Length != nil {
		return nil, ctap.Errorf(ctap.ErrInvalidParameter, "length is only for set")
	}
	if *req.Get > maxFragment {
		return nil, ctap.Errorf(ctap.ErrInvalidLength, "get is larger than %d", maxFragment)
	}
	arr, err := p.storedBlobs()
	if err != nil {
		return nil, err
	}
	off := *req.Offset
	if off > uint(len(arr)) {
		return nil, ctap.Errorf(ctap.ErrInvalidParameter, "offset is past the end")
	}
	end := min(off+*req.Get, uint(len(arr)))
	return &ctap.LargeBlobsResponse{Config: arr[off:end]}, nil
}

func (p *Provider) setBlobs(ctx context.Context, req *ctap.LargeBlobsRequest) error {
	if len(req.Set) > maxFragment {
		return ctap.Errorf(ctap.ErrInvalidLength, "set is larger than %d", maxFragment)
	}
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := p.startBlobWrite(ss, req); err != nil {
		return err
	}
	if err := p.blobToken(ss, req); err != nil {
		return err
	}
	w := ss.blobs
	if *req.Offset != uint(len(w.buf)) {
		return ctap.Errorf(ctap.ErrInvalidSeq, "offset %d does not follow %d", *req.Offset, len(w.buf))
	}
	if len(w.buf)+len(req.Set) > w.expected {
		return ctap.Errorf(ctap.ErrInvalidParameter, "more data than the announced length")
	}
	w.buf = append(w.buf, req.Set...)
	if len(w.buf) < w.expected {
		return nil
	}
	ss.blobs = nil
	return p.commitBlobs(w.buf)
}

// startBlobWrite begins a write at offset 0, which must announce the length.
func (p *Provider) startBlobWrite(ss *session, req *ctap.LargeBlobsRequest) error {
	if *req.Offset != 0 {
		if req.Length != nil {
			return ctap.Errorf(ctap.ErrInvalidParameter, "length is only sent with offset 0")
		}
		if ss.blobs == nil {
			return ctap.Errorf(ctap.ErrInvalidSeq, "no large-blob write in progress")
		}
		return nil
	}
	switch {
	case req.Length == nil:
		return ctap.Errorf(ctap.ErrInvalidParameter, "length is missing at offset 0")
	case *req.Length > MaxLargeBlobArray:
		return ctap.Errorf(ctap.ErrLargeBlobStorageFull, "the array may be at most %d bytes", MaxLargeBlobArray)
	case *req.Length < 17:
		return ctap.Errorf(ctap.ErrInvalidParameter, "the array is at least 17 bytes")
	}
	ss.blobs = &blobWrite{expected: int(*req.Length)}
	return nil
}

// blobToken checks pinUvAuthParam over 32×0xff ‖ 0x0c 0x00 ‖ uint32LE(offset) ‖ SHA-256(set).
func (p *Provider) blobToken(ss *session, req *ctap.LargeBlobsRequest) error {
	if req.PinUvAuthParam == nil {
		return ctap.Errorf(ctap.ErrPUATRequired, "writing large blobs needs a pinUvAuthToken")
	}
	msg := append(bytes.Repeat([]byte{0xff}, 32), byte(ctap.CmdLargeBlobs), 0)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(*req.Offset))
	h := sha256.Sum256(req.Set)
	msg = append(msg, h[:]...)
	_, err := p.useToken(ss, req.PinUvAuthProtocol, req.PinUvAuthParam, msg, ctap.PermLargeBlobWrite, "")
	return err
}

func (p *Provider) commitBlobs(arr []byte) error {
	n := len(arr) - 16
	h := sha256.Sum256(arr[:n])
	if !bytes.Equal(h[:16], arr[n:]) {
		return ctap.Errorf(ctap.ErrIntegrityFailure, "the array's trailing hash does not match")
	}
	if err := p.store.PutLargeBlobs(arr); err != nil {
		return p.internal("cannot store large blobs", err)
	}
	return nil
}
