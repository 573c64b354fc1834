package keystore

import (
	"encoding/binary"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// tpmDevice is what a TPM says about itself (TPM 2.0 Part 2 §6.13, TPM_PT).
type tpmDevice struct {
	manufacturer uint32
	model        string
	firmware     uint32
}

// Device identifies the TPM as the AIK certificate of the WebAuthn "tpm"
// attestation format names it (WebAuthn §8.3.1, TCG EK Credential Profile
// §3.2.9): the manufacturer's TCG vendor ID (TPM_PT_MANUFACTURER, for
// example 0x49424D00 "IBM" for swtpm), the model from TPM_PT_VENDOR_STRING_1
// to _4 (ASCII, trailing NULs and spaces removed) and TPM_PT_FIRMWARE_VERSION_1.
// The TPM is asked with TPM2_GetCapability once; later calls return the
// same answer. A TPM that does not report one of these properties gives an
// error matching [ErrTPMUnsupported].
func (s *TPMSealer) Device() (manufacturer uint32, model string, firmware uint32, err error) {
	var d *tpmDevice
	err = s.locked(func() (err error) {
		d, err = s.readDevice()
		return err
	})
	if err != nil {
		return 0, "", 0, err
	}
	return d.manufacturer, d.model, d.firmware, nil
}

// readDevice reads and caches the device properties. The caller holds s.mu.
func (s *TPMSealer) readDevice() (*tpmDevice, error) {
	if s.device != nil {
		return s.device, nil
	}
	var props [6]uint32
	for i, p := range []tpm2.TPMPT{tpm2.TPMPTManufacturer, tpm2.TPMPTVendorString1, tpm2.TPMPTVendorString2,
		tpm2.TPMPTVendorString3, tpm2.TPMPTVendorString4, tpm2.TPMPTFirmwareVersion1} {
		v, err := s.property(p)
		if err != nil {
			return nil, err
		}
		props[i] = v
	}
	s.device = &tpmDevice{manufacturer: props[0], model: vendorString(props[1:5]), firmware: props[5]}
	return s.device, nil
}

// vendorString joins the four TPM_PT_VENDOR_STRING values, four ASCII
// characters each, most significant byte first. NULs (padding) and other
// bytes outside printable ASCII are dropped, so that the result is valid
// UTF-8 for the certificate.
func vendorString(words []uint32) string {
	var b []byte
	for _, w := range words {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	printable := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(printable)
}
