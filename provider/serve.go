package provider

import (
	"context"
	"log/slog"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
)

// ServeCTAP answers one CTAP2 message: a command byte and its CBOR
// parameters in, a status byte and the CBOR response out. It implements
// ctaphid.Handler. Malformed input gets a status, never a panic.
func (p *Provider) ServeCTAP(ctx context.Context, msg []byte, userNeeded func()) []byte {
	if len(msg) == 0 {
		return []byte{byte(ctap.ErrInvalidLength)}
	}
	if userNeeded != nil {
		ctx = WithUserNeeded(ctx, userNeeded)
	}
	// The debug line's arguments cost allocations and a clock read per
	// request; an assertion is some 60 µs, so they are made only when the
	// line is written.
	debug := p.log.Enabled(ctx, slog.LevelDebug)
	var start time.Time
	if debug {
		start = time.Now()
	}
	cmd := ctap.Command(msg[0])
	resp, err := p.dispatch(ctx, cmd, msg[1:])
	if err == nil && resp != nil {
		var b []byte
		if b, err = marshalReply(resp); err == nil {
			if debug {
				p.log.Debug("ctap", "cmd", cmdName(cmd), "status", "OK", "took", time.Since(start))
			}
			return b
		}
	}
	st := ctap.StatusOf(err)
	if err != nil && debug {
		p.log.Debug("ctap", "cmd", cmdName(cmd), "status", st.Name(), "why", err.Error(), "took", time.Since(start))
	}
	return []byte{byte(st)}
}

// dispatch decodes the parameters of cmd and calls its handler.
func (p *Provider) dispatch(ctx context.Context, cmd ctap.Command, body []byte) (any, error) {
	switch cmd {
	case ctap.CmdGetInfo:
		return p.GetInfo(), nil
	case ctap.CmdMakeCredential:
		return call(ctx, body, p.MakeCredential)
	case ctap.CmdGetAssertion:
		// Assertions are most of the traffic: the hand-written decoder gives
		// the generic one's results (ctap/fastga.go) at half its cost.
		return callWith(ctx, body, ctap.DecodeGetAssertionRequest, p.GetAssertion)
	case ctap.CmdGetNextAssertion:
		return p.GetNextAssertion(ctx)
	case ctap.CmdClientPIN:
		return call(ctx, body, p.ClientPIN)
	case ctap.CmdReset:
		return nil, p.Reset(ctx)
	case ctap.CmdSelection:
		return nil, p.Selection(ctx)
	case ctap.CmdCredentialMgmt, ctap.CmdCredentialMgmtPrev:
		return call(ctx, body, p.CredentialManagement)
	case ctap.CmdLargeBlobs:
		return call(ctx, body, p.LargeBlobs)
	case ctap.CmdConfig:
		return nil, callNoReply(ctx, body, p.Config)
	}
	return nil, ctap.Errorf(ctap.ErrInvalidCommand, "command 0x%02x is not supported", byte(cmd))
}

// marshalReply encodes a handler's response after the status byte OK.
func marshalReply(resp any) ([]byte, error) {
	if r, ok := resp.(*ctap.GetAssertionResponse); ok {
		return ctap.AppendGetAssertionResponse([]byte{0}, r)
	}
	b, err := ctap.Marshal(resp)
	if err != nil {
		return nil, err
	}
	return append([]byte{0}, b...), nil
}

// call decodes body into a fresh Req and calls fn with it. A nil *Resp is
// returned as nil so that an empty reply carries no CBOR.
func call[Req, Resp any](ctx context.Context, body []byte, fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	return callWith(ctx, body, decodeParams[Req], fn)
}

// callWith is call with a decoder of its own for the parameters.
func callWith[Req, Resp any](ctx context.Context, body []byte, decode func([]byte) (*Req, error), fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	if len(body) == 0 {
		return nil, errNoParameters
	}
	req, err := decode(body)
	if err != nil {
		return nil, err
	}
	resp, err := fn(ctx, req)
	if err != nil || resp == nil {
		return nil, err
	}
	return resp, nil
}

func callNoReply[Req any](ctx context.Context, body []byte, fn func(context.Context, *Req) error) error {
	_, err := callWith(ctx, body, decodeParams[Req], func(ctx context.Context, req *Req) (*struct{}, error) {
		return nil, fn(ctx, req)
	})
	return err
}

// decodeParams decodes body with the generic strict decoder.
func decodeParams[Req any](body []byte) (*Req, error) {
	req := new(Req)
	return req, ctap.Unmarshal(body, req)
}

var errNoParameters = ctap.Errorf(ctap.ErrMissingParameter, "the command has no parameters")

var cmdNames = map[ctap.Command]string{
	ctap.CmdMakeCredential: "MakeCredential", ctap.CmdGetAssertion: "GetAssertion", ctap.CmdGetInfo: "GetInfo",
	ctap.CmdClientPIN: "ClientPIN", ctap.CmdReset: "Reset", ctap.CmdGetNextAssertion: "GetNextAssertion",
	ctap.CmdCredentialMgmt: "CredentialManagement", ctap.CmdSelection: "Selection",
	ctap.CmdLargeBlobs: "LargeBlobs", ctap.CmdConfig: "Config", ctap.CmdCredentialMgmtPrev: "CredentialManagement",
}

func cmdName(c ctap.Command) string {
	if n, ok := cmdNames[c]; ok {
		return n
	}
	return "unknown"
}
