package ctapclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"github.com/passkeyd/passkeyd/ctap"
)

// credMgmt sends one credential management subcommand, authenticated with
// tok when the subcommand needs it.
func (c *Client) credMgmt(ctx context.Context, tok *Token, sub uint, params *ctap.CredMgmtParams) (*ctap.CredMgmtResponse, error) {
	req := &ctap.CredMgmtRequest{SubCommand: sub}
	if params != nil {
		b, err := ctap.Marshal(params)
		if err != nil {
			return nil, err
		}
		req.SubCommandParams = b
	}
	if tok != nil {
		req.PinUvAuthProtocol = tok.Protocol.Version()
		req.PinUvAuthParam = tok.Auth(append([]byte{byte(sub)}, req.SubCommandParams...))
	}
	var r ctap.CredMgmtResponse
	return &r, c.Call(ctx, ctap.CmdCredentialMgmt, req, &r)
}

// Metadata is getCredsMetadata: existing and remaining discoverable credentials.
func (c *Client) Metadata(ctx context.Context, tok *Token) (existing, remaining int, err error) {
	r, err := c.credMgmt(ctx, tok, ctap.CMGetCredsMetadata, nil)
	if err != nil || r.ExistingResidentCredentialsCount == nil || r.MaxPossibleRemainingCredentials == nil {
		return 0, 0, err
	}
	return int(*r.ExistingResidentCredentialsCount), int(*r.MaxPossibleRemainingCredentials), nil
}

// RPs enumerates the RPs with discoverable credentials.
func (c *Client) RPs(ctx context.Context, tok *Token) ([]*ctap.CredMgmtResponse, error) {
	first, err := c.credMgmt(ctx, tok, ctap.CMEnumerateRPsBegin, nil)
	if errors.Is(err, ctap.ErrNoCredentials) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	out := []*ctap.CredMgmtResponse{first}
	for n := int(deref(first.TotalRPs)); len(out) < n; {
		r, err := c.credMgmt(ctx, nil, ctap.CMEnumerateRPsNext, nil)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Credentials enumerates the discoverable credentials of one RP.
func (c *Client) Credentials(ctx context.Context, tok *Token, rpIDHash []byte) ([]*ctap.CredMgmtResponse, error) {
	first, err := c.credMgmt(ctx, tok, ctap.CMEnumerateCredsBegin, &ctap.CredMgmtParams{RPIDHash: rpIDHash})
	if errors.Is(err, ctap.ErrNoCredentials) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	out := []*ctap.CredMgmtResponse{first}
	for n := int(deref(first.TotalCredentials)); len(out) < n; {
		r, err := c.credMgmt(ctx, nil, ctap.CMEnumerateCredsNext, nil)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// DeleteCredential is deleteCredential.
func (c *Client) DeleteCredential(ctx context.Context, tok *Token, id []byte) error {
	_, err := c.credMgmt(ctx, tok, ctap.CMDeleteCredential,
		&ctap.CredMgmtParams{CredentialID: &ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: id}})
	return err
}

// UpdateUser is updateUserInformation.
func (c *Client) UpdateUser(ctx context.Context, tok *Token, id []byte, user ctap.UserEntity) error {
	_, err := c.credMgmt(ctx, tok, ctap.CMUpdateUserInformation,
		&ctap.CredMgmtParams{CredentialID: &ctap.CredentialDescriptor{Type: ctap.PublicKeyType, ID: id}, User: &user})
	return err
}

func deref(p *uint) uint {
	if p == nil {
		return 0
	}
	return *p
}

// Config sends one authenticatorConfig subcommand.
func (c *Client) Config(ctx context.Context, tok *Token, sub uint, params any) error {
	req := &ctap.ConfigRequest{SubCommand: sub}
	if params != nil {
		b, err := ctap.Marshal(params)
		if err != nil {
			return err
		}
		req.SubCommandParams = b
	}
	msg := append(bytes.Repeat([]byte{0xff}, 32), byte(ctap.CmdConfig), byte(sub))
	req.PinUvAuthProtocol, req.PinUvAuthParam = tok.Protocol.Version(), tok.Auth(append(msg, req.SubCommandParams...))
	return c.Call(ctx, ctap.CmdConfig, req, nil)
}

// ReadLargeBlobs reads the whole serialized large-blob array.
func (c *Client) ReadLargeBlobs(ctx context.Context) ([]byte, error) {
	const chunk = 1024
	var out []byte
	for {
		get, off := uint(chunk), uint(len(out))
		var r ctap.LargeBlobsResponse
		if err := c.Call(ctx, ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Get: &get, Offset: &off}, &r); err != nil {
			return nil, err
		}
		out = append(out, r.Config...)
		if len(r.Config) < chunk {
			return out, nil
		}
	}
}

// WriteLargeBlobs writes a serialized large-blob array in fragments.
func (c *Client) WriteLargeBlobs(ctx context.Context, tok *Token, arr []byte) error {
	const chunk = 1024
	for off := 0; off < len(arr); off += chunk {
		frag := arr[off:min(off+chunk, len(arr))]
		o := uint(off)
		req := &ctap.LargeBlobsRequest{Set: frag, Offset: &o, PinUvAuthProtocol: tok.Protocol.Version()}
		if off == 0 {
			n := uint(len(arr))
			req.Length = &n
		}
		msg := append(bytes.Repeat([]byte{0xff}, 32), byte(ctap.CmdLargeBlobs), 0)
		msg = binary.LittleEndian.AppendUint32(msg, uint32(off))
		h := sha256Sum(frag)
		req.PinUvAuthParam = tok.Auth(append(msg, h...))
		if err := c.Call(ctx, ctap.CmdLargeBlobs, req, nil); err != nil {
			return err
		}
	}
	return nil
}
