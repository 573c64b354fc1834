package keystore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// ownerAuthSet is bit 0 of TPMA_PERMANENT (TPM 2.0 Part 2 §8.6).
const ownerAuthSet = 1 << 0

// startup sends TPM2_Startup(CLEAR) if nobody has yet: the kernel does it
// for a device, swtpm with --flags startup-clear, but a bare swtpm does not.
func (s *TPMSealer) startup() error {
	_, err := s.property(tpm2.TPMPTPermanent)
	if !errors.Is(err, tpm2.TPMRCInitialize) {
		return err
	}
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(s.tpm); err != nil {
		return tpmError("TPM2_Startup", err)
	}
	return nil
}

// checkAlgorithms makes sure the TPM can hold the keys passkeyd makes:
// ECC P-256 with ECDSA-SHA256 (credential and attestation keys), AES-CFB
// (the SRK) and keyed-hash objects (the sealed data key).
func (s *TPMSealer) checkAlgorithms() error {
	algs, err := s.algorithms()
	if err != nil {
		return err
	}
	need := []struct {
		alg  tpm2.TPMAlgID
		name string
	}{
		{tpm2.TPMAlgECC, "ECC"}, {tpm2.TPMAlgECDSA, "ECDSA"}, {tpm2.TPMAlgSHA256, "SHA-256"},
		{tpm2.TPMAlgAES, "AES"}, {tpm2.TPMAlgCFB, "CFB mode"}, {tpm2.TPMAlgKeyedHash, "sealed data objects"},
	}
	var missing []string
	for _, n := range need {
		if !algs[n.alg] {
			missing = append(missing, n.name)
		}
	}
	if p256, err := s.hasP256(); err != nil {
		return err
	} else if !p256 {
		missing = append(missing, "the NIST P-256 curve")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: it lacks %s", ErrTPMUnsupported, strings.Join(missing, ", "))
	}
	return nil
}

// algorithms lists the algorithms the TPM implements (TPM_CAP_ALGS).
func (s *TPMSealer) algorithms() (map[tpm2.TPMAlgID]bool, error) {
	algs := make(map[tpm2.TPMAlgID]bool)
	next := uint32(1)
	for range 16 {
		rsp, err := (tpm2.GetCapability{Capability: tpm2.TPMCapAlgs, Property: next, PropertyCount: 64}).Execute(s.tpm)
		if err != nil {
			return nil, tpmError("TPM2_GetCapability(algorithms)", err)
		}
		list, err := rsp.CapabilityData.Data.Algorithms()
		if err != nil {
			return nil, tpmError("TPM2_GetCapability(algorithms)", err)
		}
		for _, a := range list.AlgProperties {
			algs[a.Alg] = true
			next = uint32(a.Alg) + 1
		}
		if !rsp.MoreData || len(list.AlgProperties) == 0 {
			break
		}
	}
	return algs, nil
}

// hasP256 reports whether the TPM implements the NIST P-256 curve.
func (s *TPMSealer) hasP256() (bool, error) {
	rsp, err := (tpm2.GetCapability{Capability: tpm2.TPMCapECCCurves, PropertyCount: 64}).Execute(s.tpm)
	if err != nil {
		return false, tpmError("TPM2_GetCapability(ECC curves)", err)
	}
	list, err := rsp.CapabilityData.Data.ECCCurves()
	if err != nil {
		return false, tpmError("TPM2_GetCapability(ECC curves)", err)
	}
	for _, c := range list.ECCCurves {
		if c == tpm2.TPMECCNistP256 {
			return true, nil
		}
	}
	return false, nil
}

// flushStaleObjects unloads transient objects left by a run that died
// without flushing: swtpm and the simulator have no resource manager, so
// they would pile up until TPM_RC_OBJECT_MEMORY. Under the kernel's resource
// manager (/dev/tpmrm0) the list only holds this connection's objects, which
// is none yet.
func (s *TPMSealer) flushStaleObjects() error {
	handles, err := s.transientHandles()
	if err != nil {
		return err
	}
	for _, h := range handles {
		if err := s.flush(h); err != nil {
			return err
		}
	}
	return nil
}

// transientHandles lists the loaded transient objects (TPM_CAP_HANDLES).
func (s *TPMSealer) transientHandles() ([]tpm2.TPMHandle, error) {
	first := uint32(tpm2.TPMHTTransient) << 24
	rsp, err := (tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: first, PropertyCount: 64}).Execute(s.tpm)
	if err != nil {
		return nil, tpmError("TPM2_GetCapability(transient handles)", err)
	}
	list, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return nil, tpmError("TPM2_GetCapability(transient handles)", err)
	}
	return list.Handle, nil
}

// checkOwnerAuth refuses a TPM whose owner hierarchy has a password before
// any command needs it, so the error says what to do rather than "bad auth".
func (s *TPMSealer) checkOwnerAuth() error {
	perm, err := s.property(tpm2.TPMPTPermanent)
	if err != nil {
		return err
	}
	if perm&ownerAuthSet != 0 {
		return ErrTPMOwnerPassword
	}
	return nil
}

// property reads one fixed or variable TPM property (TPM_CAP_TPM_PROPERTIES).
func (s *TPMSealer) property(p tpm2.TPMPT) (uint32, error) {
	rsp, err := (tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(p), PropertyCount: 1}).Execute(s.tpm)
	if err != nil {
		return 0, tpmError("TPM2_GetCapability(properties)", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return 0, tpmError("TPM2_GetCapability(properties)", err)
	}
	if len(props.TPMProperty) == 0 || props.TPMProperty[0].Property != p {
		return 0, fmt.Errorf("%w: it does not report property 0x%x", ErrTPMUnsupported, uint32(p))
	}
	return props.TPMProperty[0].Value, nil
}

// createSRK creates the storage root key from the TCG ECC P-256 SRK
// template under the owner hierarchy. The same TPM always derives the same
// key from it, so blobs made before a restart load under the new handle.
func (s *TPMSealer) createSRK() error {
	h, pub, err := s.createPrimary(tpm2.ECCSRKTemplate)
	if err != nil {
		return err
	}
	s.srk, s.srkPublic = h, pub
	return nil
}

// createPrimary creates a primary object under the owner hierarchy with an
// empty owner password. The caller flushes the handle.
func (s *TPMSealer) createPrimary(template tpm2.TPMTPublic) (tpm2.NamedHandle, *tpm2.TPMTPublic, error) {
	rsp, err := (tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(template),
	}).Execute(s.tpm)
	if errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail) {
		return tpm2.NamedHandle{}, nil, ErrTPMOwnerPassword
	}
	if err != nil {
		return tpm2.NamedHandle{}, nil, tpmError("TPM2_CreatePrimary", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		s.flush(rsp.ObjectHandle)
		return tpm2.NamedHandle{}, nil, tpmError("TPM2_CreatePrimary", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, pub, nil
}

// tpmError words a failed TPM command for a person.
func tpmError(op string, err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCObjectMemory):
		return fmt.Errorf("keystore: %s failed: the TPM has no room for more loaded objects; "+
			"another program may have left some behind (tpm2_flushcontext -t frees them): %w", op, err)
	case errors.Is(err, tcp.ErrTransport) || errors.Is(err, tcp.ErrEmptyResponse):
		return fmt.Errorf("%w: %s failed: lost the connection to the TPM: %v", ErrTPMUnavailable, op, err)
	}
	return fmt.Errorf("keystore: %s failed: %w", op, err)
}
