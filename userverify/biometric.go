package userverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"
)

// The fprintd D-Bus API, as fprintd describes it in its introspection files
// src/manager.xml and src/device.xml: the service owns a Manager object that
// names the default reader, and each reader is a Device object that is
// claimed, verifies, and reports through the VerifyStatus(s result, b done)
// signal.
const (
	fprintService     = "net.reactivated.Fprint"
	fprintManagerPath = dbus.ObjectPath("/net/reactivated/Fprint/Manager")
	fprintManager     = "net.reactivated.Fprint.Manager"
	fprintDevice      = "net.reactivated.Fprint.Device"
	fprintVerifyEvent = fprintDevice + ".VerifyStatus"

	fprintErrNoDevice   = "net.reactivated.Fprint.Error.NoSuchDevice"
	fprintErrNoPrints   = "net.reactivated.Fprint.Error.NoEnrolledPrints"
	fprintErrInUse      = "net.reactivated.Fprint.Error.AlreadyInUse"
	fprintErrPermission = "net.reactivated.Fprint.Error.PermissionDenied"
)

// Biometric is the fingerprint method: it asks fprintd over D-Bus to verify
// any enrolled finger of the user the daemon runs as.
//
// It claims the default reader (Manager.GetDefaultDevice, Device.Claim("")),
// starts a verification of "any" finger and waits for VerifyStatus: a match
// verifies; a scan the reader could not read (verify-retry-scan,
// verify-swipe-too-short, verify-finger-not-centered,
// verify-remove-and-retry) keeps waiting; a finger that does not match is
// asked again, and after Attempts of them the user has given up, as a phone
// offers the screen lock after 5 failed fingerprints: a [Chain] moves on, and
// at its end the answer is [ErrDenied]. It always stops the verification and
// releases the reader.
//
// No bus, no fprintd, no reader, no enrolled finger, a reader in use or
// disconnected answer [ErrUnavailable] within CallTimeout. When ctx ends the
// answer is [ErrCancelled] or [ErrTimeout].
type Biometric struct {
	// Address is the D-Bus address of the bus where fprintd runs;
	// "" means the system bus.
	Address string
	// Attempts is how many fingers that do not match are tried before the
	// user is taken to have given up; 0 means 5.
	Attempts int
	// CallTimeout bounds connecting and each D-Bus call; 0 means 5 s.
	CallTimeout time.Duration
	// Logger receives one line per outcome; nil means slog.Default().
	Logger *slog.Logger
}

var _ Verifier = (*Biometric)(nil)

const (
	defaultFingerAttempts = 5
	defaultCallTimeout    = 5 * time.Second
)

// Verify asks for a fingerprint.
func (b *Biometric) Verify(ctx context.Context, req Request) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	err := b.verify(ctx)
	if ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	logOutcome(ctx, b.logger(), "biometric", req, err)
	return err
}

func (b *Biometric) verify(ctx context.Context) error {
	conn, err := b.connect(ctx)
	if err != nil {
		return unavailable("biometric", "no D-Bus: "+err.Error())
	}
	defer conn.Close()
	r := &reader{conn: conn, timeout: b.callTimeout()}
	if err := r.open(ctx); err != nil {
		return fprintUnavailable(err)
	}
	defer r.release()
	return r.verify(ctx, b.attempts())
}

// String names the method as [Parse] spells it.
func (b *Biometric) String() string { return "biometric" }

func (b *Biometric) attempts() int {
	if b.Attempts <= 0 {
		return defaultFingerAttempts
	}
	return b.Attempts
}

func (b *Biometric) callTimeout() time.Duration {
	if b.CallTimeout <= 0 {
		return defaultCallTimeout
	}
	return b.CallTimeout
}

func (b *Biometric) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.Default()
	}
	return b.Logger
}

// connect opens a private connection, bounded by ctx and CallTimeout. The
// connection itself outlives ctx, so that the reader can still be released
// after a cancel.
func (b *Biometric) connect(ctx context.Context) (*dbus.Conn, error) {
	connCtx, cancel := context.WithCancel(context.Background())
	stopTimer := time.AfterFunc(b.callTimeout(), cancel)
	stopCtx := context.AfterFunc(ctx, cancel)
	defer stopTimer.Stop()
	defer stopCtx()
	var conn *dbus.Conn
	var err error
	if b.Address == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(connCtx))
	} else {
		conn, err = dbus.Connect(b.Address, dbus.WithContext(connCtx))
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if !stopTimer.Stop() || !stopCtx() {
		conn.Close()
		return nil, errors.New("timed out")
	}
	return conn, nil
}

// reader is one claimed fingerprint reader.
type reader struct {
	conn    *dbus.Conn
	timeout time.Duration
	device  dbus.BusObject
	events  chan *dbus.Signal
}

// open finds the default reader, subscribes to its statuses and claims it.
func (r *reader) open(ctx context.Context) error {
	var path dbus.ObjectPath
	manager := r.conn.Object(fprintService, fprintManagerPath)
	if err := r.call(ctx, manager, fprintManager+".GetDefaultDevice").Store(&path); err != nil {
		return err
	}
	r.device = r.conn.Object(fprintService, path)
	if err := r.subscribe(ctx, path); err != nil {
		return err
	}
	return r.call(ctx, r.device, fprintDevice+".Claim", "").Err
}

func (r *reader) subscribe(ctx context.Context, path dbus.ObjectPath) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.conn.AddMatchSignalContext(cctx,
		dbus.WithMatchObjectPath(path),
		dbus.WithMatchInterface(fprintDevice),
		dbus.WithMatchMember("VerifyStatus"))
	if err != nil {
		return err
	}
	r.events = make(chan *dbus.Signal, 16)
	r.conn.Signal(r.events)
	return nil
}

func (r *reader) call(ctx context.Context, obj dbus.BusObject, method string, args ...any) *dbus.Call {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return obj.CallWithContext(cctx, method, 0, args...)
}

// cleanup makes a call that must happen even after ctx ended.
func (r *reader) cleanup(method string) {
	r.call(context.Background(), r.device, fprintDevice+"."+method)
}

func (r *reader) release() { r.cleanup("Release") }

// verify runs verifications until a finger matches, attempts fingers did
// not, or the reader fails.
func (r *reader) verify(ctx context.Context, attempts int) error {
	for range attempts {
		if err := r.call(ctx, r.device, fprintDevice+".VerifyStart", "any").Err; err != nil {
			if ctx.Err() != nil {
				// The call may have started a verification before ctx ended.
				r.cleanup("VerifyStop")
			}
			return fprintUnavailable(err)
		}
		result, err := r.await(ctx)
		r.cleanup("VerifyStop")
		switch {
		case err != nil:
			return err
		case result == "verify-match":
			return nil
		case result != "verify-no-match":
			return unavailable("biometric", "the reader answered "+result)
		}
	}
	return &gaveUpError{reason: fmt.Sprintf("fingerprint not recognised %d times", attempts)}
}

// await waits for the status that ends a verification.
func (r *reader) await(ctx context.Context) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return "", ctxErr(ctx)
		case sig, ok := <-r.events:
			if !ok {
				return "", unavailable("biometric", "lost the D-Bus connection")
			}
			result, done := verifyStatus(sig, r.device.Path())
			if done {
				return result, nil
			}
		}
	}
}

// verifyStatus decodes a VerifyStatus signal of the device at path. done
// reports a status that ends the verification: fprintd's done flag, or a
// disconnected reader or unknown error even without it.
func verifyStatus(sig *dbus.Signal, path dbus.ObjectPath) (result string, done bool) {
	if sig.Name != fprintVerifyEvent || sig.Path != path || len(sig.Body) != 2 {
		return "", false
	}
	result, ok1 := sig.Body[0].(string)
	finished, ok2 := sig.Body[1].(bool)
	if !ok1 || !ok2 {
		return "", false
	}
	switch result {
	case "verify-disconnected", "verify-unknown-error":
		return result, true
	}
	return result, finished
}

// fprintUnavailable explains why fprintd cannot verify.
func fprintUnavailable(err error) error {
	var dbusErr dbus.Error
	if !errors.As(err, &dbusErr) {
		return unavailable("biometric", err.Error())
	}
	switch dbusErr.Name {
	case fprintErrNoDevice:
		return unavailable("biometric", "no fingerprint reader")
	case fprintErrNoPrints:
		return unavailable("biometric", "no enrolled fingerprint")
	case fprintErrInUse:
		return unavailable("biometric", "the fingerprint reader is in use")
	case fprintErrPermission:
		return unavailable("biometric", "not allowed to use the fingerprint reader")
	case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
		return unavailable("biometric", "fprintd is not running")
	}
	return unavailable("biometric", dbusErr.Error())
}
