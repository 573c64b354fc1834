// Package ctapclient is a CTAP 2.1 platform: it speaks to any authenticator
// through a Transport (the provider in process, or CTAPHID over a socket).
// The CLI, the load tool and the tests use it.
package ctapclient

import (
	"context"
	"fmt"

	"github.com/passkeyd/passkeyd/ctap"
)

// Transport carries one CTAP2 message: a command byte and CBOR in, a status
// byte and CBOR out. onKeepalive, if set, hears KEEPALIVE statuses.
type Transport interface {
	CBOR(ctx context.Context, msg []byte, onKeepalive func(status byte)) ([]byte, error)
}

// HandlerFunc adapts an in-process handler (provider.ServeCTAP) to a Transport.
type HandlerFunc func(ctx context.Context, msg []byte, userNeeded func()) []byte

// CBOR implements Transport.
func (f HandlerFunc) CBOR(ctx context.Context, msg []byte, onKeepalive func(byte)) ([]byte, error) {
	var up func()
	if onKeepalive != nil {
		up = func() { onKeepalive(2) }
	}
	return f(ctx, msg, up), nil
}

// Client is a CTAP 2.1 client.
type Client struct {
	T           Transport
	OnKeepalive func(status byte)
}

// New returns a client over t.
func New(t Transport) *Client { return &Client{T: t} }

// Call sends cmd with req (nil for none) and decodes the reply into resp
// (nil to ignore it). A non-zero status comes back as a ctap.Status error.
func (c *Client) Call(ctx context.Context, cmd ctap.Command, req, resp any) error {
	msg := []byte{byte(cmd)}
	if req != nil {
		b, err := ctap.Marshal(req)
		if err != nil {
			return fmt.Errorf("ctapclient: encode: %w", err)
		}
		msg = append(msg, b...)
	}
	reply, err := c.T.CBOR(ctx, msg, c.OnKeepalive)
	if err != nil {
		return err
	}
	if len(reply) == 0 {
		return fmt.Errorf("ctapclient: empty reply")
	}
	if st := ctap.Status(reply[0]); st != ctap.StatusOK {
		return st
	}
	if resp == nil || len(reply) == 1 {
		return nil
	}
	if err := ctap.Unmarshal(reply[1:], resp); err != nil {
		return fmt.Errorf("ctapclient: decode reply: %w", err)
	}
	return nil
}

// GetInfo is authenticatorGetInfo.
func (c *Client) GetInfo(ctx context.Context) (*ctap.GetInfoResponse, error) {
	var r ctap.GetInfoResponse
	return &r, c.Call(ctx, ctap.CmdGetInfo, nil, &r)
}

// MakeCredential is authenticatorMakeCredential. With tok set, the request
// carries its pinUvAuthParam.
func (c *Client) MakeCredential(ctx context.Context, req *ctap.MakeCredentialRequest, tok *Token) (*ctap.MakeCredentialResponse, error) {
	if tok != nil {
		req.PinUvAuthProtocol, req.PinUvAuthParam = tok.Protocol.Version(), tok.Auth(req.ClientDataHash)
	}
	var r ctap.MakeCredentialResponse
	return &r, c.Call(ctx, ctap.CmdMakeCredential, req, &r)
}

// GetAssertion is authenticatorGetAssertion.
func (c *Client) GetAssertion(ctx context.Context, req *ctap.GetAssertionRequest, tok *Token) (*ctap.GetAssertionResponse, error) {
	if tok != nil {
		req.PinUvAuthProtocol, req.PinUvAuthParam = tok.Protocol.Version(), tok.Auth(req.ClientDataHash)
	}
	var r ctap.GetAssertionResponse
	return &r, c.Call(ctx, ctap.CmdGetAssertion, req, &r)
}

// GetNextAssertion is authenticatorGetNextAssertion.
func (c *Client) GetNextAssertion(ctx context.Context) (*ctap.GetAssertionResponse, error) {
	var r ctap.GetAssertionResponse
	return &r, c.Call(ctx, ctap.CmdGetNextAssertion, nil, &r)
}

// Reset is authenticatorReset.
func (c *Client) Reset(ctx context.Context) error { return c.Call(ctx, ctap.CmdReset, nil, nil) }

// Selection is authenticatorSelection.
func (c *Client) Selection(ctx context.Context) error {
	return c.Call(ctx, ctap.CmdSelection, nil, nil)
}
