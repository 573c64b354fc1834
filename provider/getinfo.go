package provider

import (
	"github.com/passkeyd/passkeyd/ctap"
)

// Limits advertised in GetInfo.
const (
	// MaxMsgSize is the largest CTAPHID message (CTAP 2.1 §11.2.4: 7609 bytes).
	MaxMsgSize = 7609
	// MaxCredentialCountInList bounds allowList and excludeList.
	MaxCredentialCountInList = 64
	// MaxCredentialIDLength bounds credential IDs in lists.
	MaxCredentialIDLength = 128
	// MaxLargeBlobArray is the largest serialized large-blob array.
	MaxLargeBlobArray = 64 * 1024
	// MaxDiscoverable is the number of discoverable credentials promised.
	MaxDiscoverable = 100_000
	// FirmwareVersion is reported in GetInfo.
	FirmwareVersion = 1
)

// GetInfo is authenticatorGetInfo (CTAP 2.1 §6.4). It answers even while the
// provider is switched off, so that clients can tell what it is.
func (p *Provider) GetInfo() *ctap.GetInfoResponse {
	s := p.Settings()
	remaining := uint(MaxDiscoverable)
	return &ctap.GetInfoResponse{
		Versions:   []string{"FIDO_2_0", "FIDO_2_1"},
		Extensions: []string{extCredProtect, extHMACSecret, extCredBlob, extLargeBlobKey, extMinPINLength},
		AAGUID:     p.cfg.AAGUID[:],
		Options: map[string]bool{
			"rk": true, "up": true, "uv": true, "plat": false,
			"clientPin": p.pin.IsSet(), "pinUvAuthToken": true,
			"credMgmt": true, "authnrCfg": true, "setMinPINLength": true,
			"largeBlobs": true, "makeCredUvNotRqd": true, "alwaysUv": s.AlwaysUV,
		},
		MaxMsgSize:                  MaxMsgSize,
		PinUvAuthProtocols:          []uint{2, 1},
		MaxCredentialCountInList:    MaxCredentialCountInList,
		MaxCredentialIDLength:       MaxCredentialIDLength,
		Transports:                  []string{"usb"},
		Algorithms:                  []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: ctap.COSEAlgES256}},
		MaxSerializedLargeBlobArray: MaxLargeBlobArray,
		ForcePINChange:              s.ForcePINChange,
		MinPINLength:                s.MinPIN(),
		FirmwareVersion:             FirmwareVersion,
		MaxCredBlobLength:           MaxCredBlobLength,
		MaxRPIDsForSetMinPINLength:  8,
		PreferredPlatformUvAttempts: 1,
		RemainingDiscoverableCreds:  &remaining,
		AttestationFormats:          []string{p.attester.Format()},
	}
}
