package provider

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/ctap"
)

// FaultKind names a misbehaviour a test can inject, so that a relying
// party's error paths can be exercised.
type FaultKind string

// Faults. Each applies to the next operations of its FaultOp, then is gone.
const (
	FaultStatus              FaultKind = "status"                // answer Fault.Status instead
	FaultCredmanError        FaultKind = "credman-error"         // answer a credman error code (api.sock); OTHER over CTAP
	FaultBogusSignature      FaultKind = "bogus-signature"       // the signature does not verify
	FaultUVCleared           FaultKind = "uv-cleared"            // UV flag cleared (the signature is valid over it)
	FaultUPCleared           FaultKind = "up-cleared"            // UP flag cleared
	FaultCounterStuck        FaultKind = "counter-not-increased" // the previous counter again
	FaultCounterLowered      FaultKind = "counter-lowered"       // a counter below the previous one
	FaultWrongRPIDHash       FaultKind = "wrong-rpid-hash"       // authenticatorData names another RP
	FaultDelay               FaultKind = "delay"                 // wait Fault.Delay, then answer normally
	FaultVerificationTimeout FaultKind = "verification-timeout"  // the user "never answers": USER_ACTION_TIMEOUT
)

// FaultKinds lists every kind, for help texts.
var FaultKinds = []FaultKind{FaultStatus, FaultCredmanError, FaultBogusSignature, FaultUVCleared, FaultUPCleared,
	FaultCounterStuck, FaultCounterLowered, FaultWrongRPIDHash, FaultDelay, FaultVerificationTimeout}

// FaultOp is the kind of operation a fault applies to.
type FaultOp string

// Operations a fault applies to.
const (
	FaultOpCreate FaultOp = "create" // MakeCredential
	FaultOpGet    FaultOp = "get"    // GetAssertion and GetNextAssertion
	FaultOpAny    FaultOp = "any"
)

// Fault is one injected misbehaviour for the next Count operations of Op.
type Fault struct {
	ID          int           `json:"id"`
	Kind        FaultKind     `json:"kind"`
	Op          FaultOp       `json:"op"`
	Count       int           `json:"count"`                 // operations left
	Status      ctap.Status   `json:"status,omitempty"`      // FaultStatus
	CredmanCode string        `json:"credmanCode,omitempty"` // FaultCredmanError
	Delay       time.Duration `json:"delay,omitempty"`       // FaultDelay
}

// InjectedError is the error of a FaultCredmanError; credman answers its Code.
type InjectedError struct{ Code string }

func (e *InjectedError) Error() string { return "injected fault: credman error " + e.Code }

// Is makes errors.Is(err, ctap.ErrOther) hold: over CTAP it is CTAP1_ERR_OTHER.
func (e *InjectedError) Is(target error) bool { return target == ctap.ErrOther }

type faults struct {
	mu     sync.Mutex
	list   []*Fault
	nextID int
}

// InjectFault queues a fault. It returns the fault with its ID.
func (p *Provider) InjectFault(f Fault) (Fault, error) {
	if err := f.validate(); err != nil {
		return f, err
	}
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	p.faults.nextID++
	f.ID = p.faults.nextID
	p.faults.list = append(p.faults.list, &f)
	p.log.Warn("fault queued", "id", f.ID, "kind", f.Kind, "op", f.Op, "count", f.Count)
	return f, nil
}

func (f *Fault) validate() error {
	known := false
	for _, k := range FaultKinds {
		known = known || k == f.Kind
	}
	switch {
	case !known:
		return fmt.Errorf("provider: unknown fault kind %q", f.Kind)
	case f.Op != FaultOpCreate && f.Op != FaultOpGet && f.Op != FaultOpAny:
		return fmt.Errorf("provider: fault op %q is not create, get or any", f.Op)
	case f.Count < 1:
		return errors.New("provider: a fault needs a count of at least 1")
	case f.Kind == FaultStatus && f.Status == ctap.StatusOK:
		return errors.New("provider: a status fault needs a non-zero status")
	case f.Kind == FaultCredmanError && f.CredmanCode == "":
		return errors.New("provider: a credman-error fault needs a code")
	case f.Kind == FaultDelay && (f.Delay <= 0 || f.Delay > 10*time.Minute):
		return errors.New("provider: a delay fault needs a delay between 0 and 10 minutes")
	}
	return nil
}

// Faults lists the queued faults.
func (p *Provider) Faults() []Fault {
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	out := make([]Fault, len(p.faults.list))
	for i, f := range p.faults.list {
		out[i] = *f
	}
	return out
}

// ClearFaults drops every queued fault.
func (p *Provider) ClearFaults() {
	p.faults.mu.Lock()
	p.faults.list = nil
	p.faults.mu.Unlock()
}

// takeFault consumes one use of the first fault that applies to op.
func (p *Provider) takeFault(op FaultOp) *Fault {
	p.faults.mu.Lock()
	defer p.faults.mu.Unlock()
	for i, f := range p.faults.list {
		if f.Op != op && f.Op != FaultOpAny {
			continue
		}
		used := *f
		if f.Count--; f.Count == 0 {
			p.faults.list = append(p.faults.list[:i], p.faults.list[i+1:]...)
		}
		p.log.Warn("injecting fault", "id", used.ID, "kind", used.Kind, "op", op)
		p.emit(Event{Type: EventFaultInjected, Fault: string(used.Kind), Operation: string(op)})
		return &used
	}
	return nil
}

// applyFault runs the faults that replace or delay an operation. The others
// come back to change its output (see mutate*).
func applyFault(ctx context.Context, f *Fault) error {
	if f == nil {
		return nil
	}
	switch f.Kind {
	case FaultStatus:
		return ctap.Errorf(f.Status, "injected fault")
	case FaultCredmanError:
		return &InjectedError{Code: f.CredmanCode}
	case FaultVerificationTimeout:
		return ctap.Errorf(ctap.ErrUserActionTimeout, "injected fault: the user did not answer")
	case FaultDelay:
		select {
		case <-time.After(f.Delay):
		case <-ctx.Done():
			return ctap.Errorf(ctap.ErrKeepaliveCancel, "cancelled during an injected delay")
		}
	}
	return nil
}

// mutateAuthData applies the faults that change authenticator data, before
// it is signed; counter is the counter about to be reported.
func (f *Fault) mutateAuthData(a *ctap.AuthData) {
	if f == nil {
		return
	}
	switch f.Kind {
	case FaultUVCleared:
		a.Flags &^= ctap.FlagUV
	case FaultUPCleared:
		a.Flags &^= ctap.FlagUP
	case FaultWrongRPIDHash:
		a.RPIDHash = sha256.Sum256(append([]byte("not."), a.RPIDHash[:]...))
	case FaultCounterStuck:
		a.Counter = max(a.Counter, 1) - 1
	case FaultCounterLowered:
		a.Counter = max(a.Counter, 2) - 2
	}
}

// mutateAttStmt breaks the signature inside an attestation statement, when
// it has one (none has not).
func (f *Fault) mutateAttStmt(attStmt cbor.RawMessage) cbor.RawMessage {
	if f == nil || f.Kind != FaultBogusSignature {
		return attStmt
	}
	var m map[string]cbor.RawMessage
	var sig []byte
	if ctap.Unmarshal(attStmt, &m) != nil || m["sig"] == nil || ctap.Unmarshal(m["sig"], &sig) != nil {
		return attStmt
	}
	m["sig"] = ctap.MustMarshal(f.mutateSignature(sig))
	return ctap.MustMarshal(m)
}

// mutateSignature breaks a signature while keeping it well-formed DER.
func (f *Fault) mutateSignature(sig []byte) []byte {
	if f == nil || f.Kind != FaultBogusSignature || len(sig) == 0 {
		return sig
	}
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 0x01
	return bad
}
