package decode

import "github.com/passkeyd/passkeyd/attestation"

// aaguidNames names a few providers' AAGUIDs. Besides passkeyd's own, the
// names are those of the community list passkeydeveloper/
// passkey-authenticator-aaguids (aaguid.json); nothing is named from memory.
var aaguidNames = map[string]string{
	attestation.FormatAAGUID(attestation.DefaultAAGUID): "passkeyd",
	"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4":              "Google Password Manager",
	"adce0002-35bc-c60a-648b-0b25f1f05503":              "Chrome on Mac",
	"08987058-cadc-4b81-b6e1-30de50dcbe96":              "Windows Hello",
	"9ddd1817-af5a-4672-a2b9-3e3dd95000a9":              "Windows Hello",
	"6028b017-b1d4-4c02-b4b3-afcdafc96bb2":              "Windows Hello",
	"dd4ec289-e01d-41c9-bb89-70fa845d4bf2":              "iCloud Keychain (Managed)",
	"531126d6-e717-415c-9320-3d9aa6981239":              "Dashlane",
	"bada5566-a7aa-401f-bd96-45619a55120d":              "1Password",
	"b84e4048-15dc-4dd0-8640-f4f60813c8af":              "NordPass",
	"0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6":              "Keeper",
}

const zeroAAGUID = "00000000-0000-0000-0000-000000000000"

// aaguidName returns a name for a, or "" when it is not in the table.
func aaguidName(a string) string {
	if a == zeroAAGUID {
		return "none (zero: the authenticator did not say, or attestation was \"none\")"
	}
	return aaguidNames[a]
}
