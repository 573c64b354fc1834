package provider

import (
	"bytes"
	"context"

	"github.com/passkeyd/passkeyd/ctap"
)

// maxMinPINLengthRPIDs is maxRPIDsForSetMinPINLength in GetInfo.
const maxMinPINLengthRPIDs = 8

// Config is authenticatorConfig (CTAP 2.1 §6.11): toggleAlwaysUv and
// setMinPINLength. Enterprise attestation is not offered.
func (p *Provider) Config(ctx context.Context, req *ctap.ConfigRequest) error {
	if req.PinUvAuthParam == nil {
		return ctap.Errorf(ctap.ErrPUATRequired, "authenticatorConfig needs a pinUvAuthToken")
	}
	msg := append(bytes.Repeat([]byte{0xff}, 32), byte(ctap.CmdConfig), byte(req.SubCommand))
	msg = append(msg, req.SubCommandParams...)
	ss := p.sessions.get(ctx)
	ss.mu.Lock()
	_, err := p.useToken(ss, req.PinUvAuthProtocol, req.PinUvAuthParam, msg, ctap.PermConfig, "")
	ss.mu.Unlock()
	if err != nil {
		return err
	}
	switch req.SubCommand {
	case ctap.CfgToggleAlwaysUV:
		return p.UpdateSettings(func(s *Settings) { s.AlwaysUV = !s.AlwaysUV })
	case ctap.CfgSetMinPINLength:
		return p.setMinPINLength(req)
	}
	return ctap.Errorf(ctap.ErrInvalidSubcommand, "config subcommand 0x%02x is not supported", req.SubCommand)
}

// setMinPINLength is CTAP 2.1 §6.11.4. The minimum can only grow; a PIN
// shorter than the new minimum, or forceChangePin, forces a change.
func (p *Provider) setMinPINLength(req *ctap.ConfigRequest) error {
	var params ctap.SetMinPINLengthParams
	if len(req.SubCommandParams) > 0 {
		if err := ctap.Unmarshal(req.SubCommandParams, &params); err != nil {
			return err
		}
	}
	cur := p.Settings()
	newMin := params.NewMinPINLength
	if newMin == 0 {
		newMin = cur.MinPIN()
	}
	switch {
	case newMin < cur.MinPIN():
		return ctap.Errorf(ctap.ErrPINPolicyViolation, "the minimum PIN length cannot shrink from %d to %d", cur.MinPIN(), newMin)
	case len(params.MinPINLengthRPIDs) > maxMinPINLengthRPIDs:
		return ctap.Errorf(ctap.ErrInvalidLength, "at most %d RP IDs may read minPinLength", maxMinPINLengthRPIDs)
	case params.ForceChangePIN && !p.pin.IsSet():
		return ctap.Errorf(ctap.ErrPINNotSet, "forceChangePin needs a PIN")
	}
	return p.UpdateSettings(func(s *Settings) {
		s.MinPINLength = newMin
		if params.MinPINLengthRPIDs != nil {
			s.MinPINLengthRPIDs = params.MinPINLengthRPIDs
		}
		if params.ForceChangePIN || (p.pin.IsSet() && newMin > s.PINLength) {
			s.ForcePINChange = true
		}
	})
}
