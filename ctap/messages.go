package ctap

import "github.com/fxamacker/cbor/v2"

// Command is the first byte of a CTAP2 message (CTAP 2.1 §6 "Authenticator API").
type Command byte

// Commands, CTAP 2.1 §6.
const (
	CmdMakeCredential     Command = 0x01
	CmdGetAssertion       Command = 0x02
	CmdGetInfo            Command = 0x04
	CmdClientPIN          Command = 0x06
	CmdReset              Command = 0x07
	CmdGetNextAssertion   Command = 0x08
	CmdBioEnrollment      Command = 0x09
	CmdCredentialMgmt     Command = 0x0A
	CmdSelection          Command = 0x0B
	CmdLargeBlobs         Command = 0x0C
	CmdConfig             Command = 0x0D
	CmdCredentialMgmtPrev Command = 0x41 // FIDO_2_1_PRE credentialMgmtPreview
)

// PublicKeyType is the only credential type (WebAuthn §5.8.2).
const PublicKeyType = "public-key"

// RPEntity is PublicKeyCredentialRpEntity (WebAuthn §5.4.2).
type RPEntity struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
	Icon string `cbor:"icon,omitempty"`
}

// UserEntity is PublicKeyCredentialUserEntity (WebAuthn §5.4.3).
type UserEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
	Icon        string `cbor:"icon,omitempty"`
}

// CredentialParameter is PublicKeyCredentialParameters (WebAuthn §5.3).
type CredentialParameter struct {
	Type string `cbor:"type"`
	Alg  int    `cbor:"alg"`
}

// CredentialDescriptor is PublicKeyCredentialDescriptor (WebAuthn §5.8.3).
type CredentialDescriptor struct {
	Type       string   `cbor:"type"`
	ID         []byte   `cbor:"id"`
	Transports []string `cbor:"transports,omitempty"`
}

// MakeCredentialRequest is authenticatorMakeCredential's input (CTAP 2.1 §6.1).
type MakeCredentialRequest struct {
	ClientDataHash        []byte                     `cbor:"1,keyasint"`
	RP                    *RPEntity                  `cbor:"2,keyasint"`
	User                  *UserEntity                `cbor:"3,keyasint"`
	PubKeyCredParams      []CredentialParameter      `cbor:"4,keyasint"`
	ExcludeList           []CredentialDescriptor     `cbor:"5,keyasint,omitempty"`
	Extensions            map[string]cbor.RawMessage `cbor:"6,keyasint,omitempty"`
	Options               map[string]bool            `cbor:"7,keyasint,omitempty"`
	PinUvAuthParam        []byte                     `cbor:"8,keyasint,omitempty"`
	PinUvAuthProtocol     uint                       `cbor:"9,keyasint,omitempty"`
	EnterpriseAttestation uint                       `cbor:"10,keyasint,omitempty"`
}

// MakeCredentialResponse is authenticatorMakeCredential's output (CTAP 2.1 §6.1.2).
type MakeCredentialResponse struct {
	Fmt          string          `cbor:"1,keyasint"`
	AuthData     []byte          `cbor:"2,keyasint"`
	AttStmt      cbor.RawMessage `cbor:"3,keyasint"`
	EpAtt        bool            `cbor:"4,keyasint,omitempty"`
	LargeBlobKey []byte          `cbor:"5,keyasint,omitempty"`
}

// GetAssertionRequest is authenticatorGetAssertion's input (CTAP 2.1 §6.2).
type GetAssertionRequest struct {
	RPID              string                     `cbor:"1,keyasint"`
	ClientDataHash    []byte                     `cbor:"2,keyasint"`
	AllowList         []CredentialDescriptor     `cbor:"3,keyasint,omitempty"`
	Extensions        map[string]cbor.RawMessage `cbor:"4,keyasint,omitempty"`
	Options           map[string]bool            `cbor:"5,keyasint,omitempty"`
	PinUvAuthParam    []byte                     `cbor:"6,keyasint,omitempty"`
	PinUvAuthProtocol uint                       `cbor:"7,keyasint,omitempty"`
}

// GetAssertionResponse is authenticatorGetAssertion's and
// authenticatorGetNextAssertion's output (CTAP 2.1 §6.2.2, §6.3).
type GetAssertionResponse struct {
	Credential          *CredentialDescriptor `cbor:"1,keyasint,omitempty"`
	AuthData            []byte                `cbor:"2,keyasint"`
	Signature           []byte                `cbor:"3,keyasint"`
	User                *UserEntity           `cbor:"4,keyasint,omitempty"`
	NumberOfCredentials int                   `cbor:"5,keyasint,omitempty"`
	UserSelected        bool                  `cbor:"6,keyasint,omitempty"`
	LargeBlobKey        []byte                `cbor:"7,keyasint,omitempty"`
}

// GetInfoResponse is authenticatorGetInfo's output (CTAP 2.1 §6.4; 0x16
// attestationFormats is CTAP 2.2).
type GetInfoResponse struct {
	Versions                    []string              `cbor:"1,keyasint"`
	Extensions                  []string              `cbor:"2,keyasint,omitempty"`
	AAGUID                      []byte                `cbor:"3,keyasint"`
	Options                     map[string]bool       `cbor:"4,keyasint,omitempty"`
	MaxMsgSize                  uint                  `cbor:"5,keyasint,omitempty"`
	PinUvAuthProtocols          []uint                `cbor:"6,keyasint,omitempty"`
	MaxCredentialCountInList    uint                  `cbor:"7,keyasint,omitempty"`
	MaxCredentialIDLength       uint                  `cbor:"8,keyasint,omitempty"`
	Transports                  []string              `cbor:"9,keyasint,omitempty"`
	Algorithms                  []CredentialParameter `cbor:"10,keyasint,omitempty"`
	MaxSerializedLargeBlobArray uint                  `cbor:"11,keyasint,omitempty"`
	ForcePINChange              bool                  `cbor:"12,keyasint,omitempty"`
	MinPINLength                uint                  `cbor:"13,keyasint,omitempty"`
	FirmwareVersion             uint                  `cbor:"14,keyasint,omitempty"`
	MaxCredBlobLength           uint                  `cbor:"15,keyasint,omitempty"`
	MaxRPIDsForSetMinPINLength  uint                  `cbor:"16,keyasint,omitempty"`
	PreferredPlatformUvAttempts uint                  `cbor:"17,keyasint,omitempty"`
	UVModality                  uint                  `cbor:"18,keyasint,omitempty"`
	RemainingDiscoverableCreds  *uint                 `cbor:"20,keyasint,omitempty"`
	AttestationFormats          []string              `cbor:"22,keyasint,omitempty"`
}

// ClientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	PINGetRetries               = 0x01
	PINGetKeyAgreement          = 0x02
	PINSetPIN                   = 0x03
	PINChangePIN                = 0x04
	PINGetPINToken              = 0x05
	PINGetTokenUsingUV          = 0x06
	PINGetUVRetries             = 0x07
	PINGetTokenUsingPINWithPerm = 0x09
)

// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
const (
	PermMakeCredential = 0x01
	PermGetAssertion   = 0x02
	PermCredMgmt       = 0x04
	PermBioEnroll      = 0x08
	PermLargeBlobWrite = 0x10
	PermConfig         = 0x20
)

// ClientPINRequest is authenticatorClientPIN's input (CTAP 2.1 §6.5.5).
type ClientPINRequest struct {
	PinUvAuthProtocol uint     `cbor:"1,keyasint,omitempty"`
	SubCommand        uint     `cbor:"2,keyasint"`
	KeyAgreement      *COSEKey `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte   `cbor:"4,keyasint,omitempty"`
	NewPINEnc         []byte   `cbor:"5,keyasint,omitempty"`
	PINHashEnc        []byte   `cbor:"6,keyasint,omitempty"`
	Permissions       uint     `cbor:"9,keyasint,omitempty"`
	RPID              string   `cbor:"10,keyasint,omitempty"`
}

// ClientPINResponse is authenticatorClientPIN's output (CTAP 2.1 §6.5.5).
type ClientPINResponse struct {
	KeyAgreement    *COSEKey `cbor:"1,keyasint,omitempty"`
	PinUvAuthToken  []byte   `cbor:"2,keyasint,omitempty"`
	PINRetries      *uint    `cbor:"3,keyasint,omitempty"`
	PowerCycleState *bool    `cbor:"4,keyasint,omitempty"`
	UVRetries       *uint    `cbor:"5,keyasint,omitempty"`
}

// CredentialManagement subcommands (CTAP 2.1 §6.8).
const (
	CMGetCredsMetadata      = 0x01
	CMEnumerateRPsBegin     = 0x02
	CMEnumerateRPsNext      = 0x03
	CMEnumerateCredsBegin   = 0x04
	CMEnumerateCredsNext    = 0x05
	CMDeleteCredential      = 0x06
	CMUpdateUserInformation = 0x07
)

// CredMgmtRequest is authenticatorCredentialManagement's input (CTAP 2.1 §6.8).
// SubCommandParams stays raw: pinUvAuthParam is computed over its exact bytes.
type CredMgmtRequest struct {
	SubCommand        uint            `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol uint            `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint,omitempty"`
}

// CredMgmtParams are the subCommandParams of CredentialManagement.
type CredMgmtParams struct {
	RPIDHash     []byte                `cbor:"1,keyasint,omitempty"`
	CredentialID *CredentialDescriptor `cbor:"2,keyasint,omitempty"`
	User         *UserEntity           `cbor:"3,keyasint,omitempty"`
}

// CredMgmtResponse is authenticatorCredentialManagement's output. Counts are
// pointers: zero is a meaningful answer.
//
// Created and LastUsed are passkeyd's vendor fields (keys 0x70 and 0x71,
// Unix seconds; LastUsed is absent for a passkey never used), sent with each
// credential of enumerateCredentials. CTAP clients ignore map keys they do
// not know (forward compatibility; [Unmarshal] does too), so other clients
// are unaffected; other authenticators do not send them.
type CredMgmtResponse struct {
	ExistingResidentCredentialsCount *uint                 `cbor:"1,keyasint,omitempty"`
	MaxPossibleRemainingCredentials  *uint                 `cbor:"2,keyasint,omitempty"`
	RP                               *RPEntity             `cbor:"3,keyasint,omitempty"`
	RPIDHash                         []byte                `cbor:"4,keyasint,omitempty"`
	TotalRPs                         *uint                 `cbor:"5,keyasint,omitempty"`
	User                             *UserEntity           `cbor:"6,keyasint,omitempty"`
	CredentialID                     *CredentialDescriptor `cbor:"7,keyasint,omitempty"`
	PublicKey                        *COSEKey              `cbor:"8,keyasint,omitempty"`
	TotalCredentials                 *uint                 `cbor:"9,keyasint,omitempty"`
	CredProtect                      uint                  `cbor:"10,keyasint,omitempty"`
	LargeBlobKey                     []byte                `cbor:"11,keyasint,omitempty"`
	Created                          int64                 `cbor:"112,keyasint,omitempty"`
	LastUsed                         int64                 `cbor:"113,keyasint,omitempty"`
}

// Config subcommands (CTAP 2.1 §6.11).
const (
	CfgEnableEnterpriseAttestation = 0x01
	CfgToggleAlwaysUV              = 0x02
	CfgSetMinPINLength             = 0x03
)

// ConfigRequest is authenticatorConfig's input (CTAP 2.1 §6.11).
type ConfigRequest struct {
	SubCommand        uint            `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol uint            `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint,omitempty"`
}

// SetMinPINLengthParams are setMinPINLength's subCommandParams (CTAP 2.1 §6.11.4).
type SetMinPINLengthParams struct {
	NewMinPINLength   uint     `cbor:"1,keyasint,omitempty"`
	MinPINLengthRPIDs []string `cbor:"2,keyasint,omitempty"`
	ForceChangePIN    bool     `cbor:"3,keyasint,omitempty"`
}

// LargeBlobsRequest is authenticatorLargeBlobs' input (CTAP 2.1 §6.10.2).
type LargeBlobsRequest struct {
	Get               *uint  `cbor:"1,keyasint,omitempty"`
	Set               []byte `cbor:"2,keyasint,omitempty"`
	Offset            *uint  `cbor:"3,keyasint,omitempty"`
	Length            *uint  `cbor:"4,keyasint,omitempty"`
	PinUvAuthParam    []byte `cbor:"5,keyasint,omitempty"`
	PinUvAuthProtocol uint   `cbor:"6,keyasint,omitempty"`
}

// LargeBlobsResponse is authenticatorLargeBlobs' output.
type LargeBlobsResponse struct {
	Config []byte `cbor:"1,keyasint"`
}

// HMACSecretInput is the hmac-secret extension's GetAssertion input (CTAP 2.1 §12.5).
type HMACSecretInput struct {
	KeyAgreement      *COSEKey `cbor:"1,keyasint"`
	SaltEnc           []byte   `cbor:"2,keyasint"`
	SaltAuth          []byte   `cbor:"3,keyasint"`
	PinUvAuthProtocol uint     `cbor:"4,keyasint,omitempty"`
}
