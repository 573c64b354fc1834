package api

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
)

// The test controls (docs/api.md "Test controls", docs/testing.md): the
// WebDriver "Virtual Authenticator" operations (WebAuthn L3 §11.4.3–§11.4.8)
// plus fault injection and an event stream, under /v1/test/. They add,
// reveal and remove passkeys without asking the user, so they are served
// only when the daemon runs with --test-controls.

// eventBuffer is how many events a slow /v1/test/events reader may fall
// behind before it loses some.
const eventBuffer = 256

// testCtl is the state of the test controls: the event streams to end when
// the server shuts down.
type testCtl struct {
	once  sync.Once
	done  chan struct{}
	ended sync.Once
}

// stopped is closed by EndStreams.
func (t *testCtl) stopped() chan struct{} {
	t.once.Do(func() { t.done = make(chan struct{}) })
	return t.done
}

// EndStreams ends every /v1/test/events stream, so that a graceful
// shutdown does not wait for watchers (register it with
// http.Server.RegisterOnShutdown). Calling it twice is harmless.
func (s *Server) EndStreams() {
	done := s.tc.stopped()
	s.tc.ended.Do(func() { close(done) })
}

// Errors of the test controls, in the shape of the other api.sock errors.
var (
	errTestControlsOff = &credman.Error{Code: "test_controls_off", Name: "NotFoundError",
		Message: "the test controls are off: start the daemon with 'passkeyd serve --test-controls' (or PASSKEYD_TEST_CONTROLS=1)"}
	errUnknownCredential = &credman.Error{Code: "unknown_credential", Name: "NotFoundError"}
	errCredentialExists  = &credman.Error{Code: "credential_exists", Name: "InvalidStateError"}
	errExportRefused     = &credman.Error{Code: "export_refused", Name: "NotAllowedError"}
	errNoImport          = &credman.Error{Code: "import_unsupported", Name: "NotSupportedError"}
)

// mountTestControls adds the /v1/test/ routes, or, without --test-controls,
// one route that says how to turn them on.
func (s *Server) mountTestControls(mux *http.ServeMux) {
	if !s.TestControls {
		mux.HandleFunc("/v1/test/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, errTestControlsOff)
		})
		return
	}
	mux.HandleFunc("POST /v1/test/credentials", s.addCredential)
	mux.HandleFunc("GET /v1/test/credentials", s.getCredentials)
	mux.HandleFunc("DELETE /v1/test/credentials", s.removeAllCredentials)
	mux.HandleFunc("DELETE /v1/test/credentials/{id}", s.removeCredential)
	mux.HandleFunc("POST /v1/test/credentials/{id}/props", s.setCredentialProperties)
	mux.HandleFunc("POST /v1/test/uv", s.setUserVerified)
	mux.HandleFunc("DELETE /v1/test/uv", s.clearUserVerified)
	mux.HandleFunc("POST /v1/test/faults", s.injectFault)
	mux.HandleFunc("GET /v1/test/faults", s.listFaults)
	mux.HandleFunc("DELETE /v1/test/faults", s.clearFaults)
	mux.HandleFunc("GET /v1/test/events", s.streamEvents)
	mux.HandleFunc("/v1/test/", unrouted(mux, "is not a test control (see docs/api.md \"Test controls\")"))
}

func (s *Server) testLog() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// badRequest answers 400 invalid_request.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, &credman.Error{Code: "invalid_request", Name: "TypeError",
		Message: fmt.Sprintf(format, args...)})
}

// testError answers a provider error with the status its kind deserves.
func testError(w http.ResponseWriter, err error) {
	withMessage := func(e *credman.Error) *credman.Error {
		return &credman.Error{Code: e.Code, Name: e.Name, Message: err.Error()}
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		writeError(w, http.StatusNotFound, withMessage(errUnknownCredential))
	case errors.Is(err, keystore.ErrExists):
		writeError(w, http.StatusConflict, withMessage(errCredentialExists))
	case errors.Is(err, provider.ErrNoExport):
		writeError(w, http.StatusForbidden, withMessage(errExportRefused))
	case errors.Is(err, provider.ErrNoImport):
		writeError(w, http.StatusNotImplemented, withMessage(errNoImport))
	default:
		writeError(w, http.StatusInternalServerError, withMessage(credman.ErrInternal))
	}
}

// ---- credentials: WebDriver Add Credential, Get Credentials, Remove
// Credential, Remove All Credentials, Set Credential Properties ----

// credentialJSON is WebDriver's Credential Parameters (WebAuthn L3
// §11.4.3): byte strings are base64url. signCount may be null (no counter),
// which passkeyd stores as 0.
type credentialJSON struct {
	CredentialID         string  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RPID                 string  `json:"rpId"`
	PrivateKey           string  `json:"privateKey,omitempty"`
	UserHandle           string  `json:"userHandle,omitempty"`
	SignCount            *uint32 `json:"signCount"`
	LargeBlob            string  `json:"largeBlob,omitempty"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
	UserName             string  `json:"userName,omitempty"`
	UserDisplayName      string  `json:"userDisplayName,omitempty"`
}

func credentialToJSON(c provider.TestCredential) credentialJSON {
	count := c.SignCount
	return credentialJSON{CredentialID: b64(c.CredentialID), IsResidentCredential: c.IsResidentCredential,
		RPID: c.RPID, PrivateKey: b64(c.PrivateKey), UserHandle: b64(c.UserHandle), SignCount: &count,
		BackupEligibility: c.BackupEligibility, BackupState: c.BackupState, UserName: c.UserName,
		UserDisplayName: c.UserDisplayName}
}

// credential checks the parameters and decodes them.
func (c credentialJSON) credential() (provider.TestCredential, error) {
	var out provider.TestCredential
	var err error
	if out.CredentialID, err = unb64("credentialId", c.CredentialID); err != nil {
		return out, err
	}
	if out.PrivateKey, err = unb64("privateKey", c.PrivateKey); err != nil {
		return out, err
	}
	if out.UserHandle, err = unb64("userHandle", c.UserHandle); err != nil {
		return out, err
	}
	switch n := len(out.CredentialID); {
	case n < 16 || n > provider.MaxCredentialIDLength:
		return out, fmt.Errorf("credentialId is %d bytes; it must be 16 to %d", n, provider.MaxCredentialIDLength)
	case c.RPID == "":
		return out, errors.New("rpId is required")
	case c.IsResidentCredential && len(out.UserHandle) == 0:
		return out, errors.New("a resident credential (isResidentCredential) needs a userHandle")
	case len(out.UserHandle) > 64:
		return out, fmt.Errorf("userHandle is %d bytes; at most 64", len(out.UserHandle))
	case c.BackupState && !c.BackupEligibility:
		return out, errors.New("backupState needs backupEligibility")
	case c.LargeBlob != "":
		return out, errors.New("largeBlob is not supported by the test controls")
	}
	if err := checkP256PKCS8(out.PrivateKey); err != nil {
		return out, err
	}
	out.IsResidentCredential, out.RPID = c.IsResidentCredential, c.RPID
	out.BackupEligibility, out.BackupState = c.BackupEligibility, c.BackupState
	out.UserName, out.UserDisplayName = c.UserName, c.UserDisplayName
	if c.SignCount != nil {
		out.SignCount = *c.SignCount
	}
	return out, nil
}

func checkP256PKCS8(der []byte) error {
	if len(der) == 0 {
		return errors.New("privateKey is required: a PKCS#8 ECDSA P-256 key, base64url")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("privateKey is not PKCS#8 DER: %v", err)
	}
	if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve.Params().Name != "P-256" {
		return errors.New("privateKey must be an ECDSA P-256 key (the only kind WebDriver defines)")
	}
	return nil
}

// POST /v1/test/credentials: WebDriver Add Credential.
func (s *Server) addCredential(w http.ResponseWriter, r *http.Request) {
	var in credentialJSON
	if !readJSON(w, r, &in) {
		return
	}
	c, err := in.credential()
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	if err := s.P.AddCredential(c); err != nil {
		testError(w, err)
		return
	}
	s.testLog().Warn("test control: credential added", "rp", c.RPID, "credential", b64(c.CredentialID))
	c.PrivateKey = nil
	writeJSON(w, http.StatusOK, credentialToJSON(c))
}

// GET /v1/test/credentials[?keys=1]: WebDriver Get Credentials.
func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) {
	withKeys, err := queryBool(r, "keys")
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	creds, err := s.P.TestCredentials(withKeys)
	if err != nil {
		testError(w, err)
		return
	}
	if withKeys {
		s.testLog().Warn("test control: private keys read", "credentials", len(creds))
	}
	out := make([]credentialJSON, len(creds))
	for i, c := range creds {
		out[i] = credentialToJSON(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("?%s=%s: want 1, true, 0 or false", name, v)
	}
	return b, nil
}

// pathID decodes the {id} of a credential path.
func pathID(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	id, err := unb64("the credential ID in the path", r.PathValue("id"))
	if err == nil && len(id) == 0 {
		err = errors.New("the credential ID in the path is empty")
	}
	if err != nil {
		badRequest(w, "%v", err)
		return nil, false
	}
	return id, true
}

// DELETE /v1/test/credentials/{id}: WebDriver Remove Credential.
func (s *Server) removeCredential(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.P.RemoveCredential(id); err != nil {
		testError(w, err)
		return
	}
	s.testLog().Warn("test control: credential removed", "credential", b64(id))
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// DELETE /v1/test/credentials: WebDriver Remove All Credentials.
func (s *Server) removeAllCredentials(w http.ResponseWriter, r *http.Request) {
	if err := s.P.RemoveAllCredentials(); err != nil {
		testError(w, err)
		return
	}
	s.testLog().Warn("test control: every credential removed")
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// POST /v1/test/credentials/{id}/props: WebDriver Set Credential
// Properties. It answers the credential as it now is.
func (s *Server) setCredentialProperties(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var props provider.CredentialProperties
	if !readJSON(w, r, &props) {
		return
	}
	before, err := s.findCredential(id)
	if err != nil {
		testError(w, err)
		return
	}
	if props.SignCount != nil && *props.SignCount < before.SignCount {
		badRequest(w, "signCount %d is below the current %d: counters never go back (inject a counter-lowered fault instead)",
			*props.SignCount, before.SignCount)
		return
	}
	be, bs := before.BackupEligibility, before.BackupState
	if props.BackupEligibility != nil {
		be = *props.BackupEligibility
	}
	if props.BackupState != nil {
		bs = *props.BackupState
	}
	if bs && !be {
		badRequest(w, "backupState needs backupEligibility")
		return
	}
	if err := s.P.SetCredentialProperties(id, props); err != nil {
		testError(w, err)
		return
	}
	after, err := s.findCredential(id)
	if err != nil {
		testError(w, err)
		return
	}
	s.testLog().Warn("test control: credential properties set", "credential", b64(id),
		"backupEligibility", after.BackupEligibility, "backupState", after.BackupState, "signCount", after.SignCount)
	writeJSON(w, http.StatusOK, credentialToJSON(after))
}

func (s *Server) findCredential(id []byte) (provider.TestCredential, error) {
	all, err := s.P.TestCredentials(false)
	if err != nil {
		return provider.TestCredential{}, err
	}
	for _, c := range all {
		if string(c.CredentialID) == string(id) {
			return c, nil
		}
	}
	return provider.TestCredential{}, fmt.Errorf("no credential %s: %w", b64(id), keystore.ErrNotFound)
}

// ---- user verification: WebDriver Set User Verified ----

type userVerifiedJSON struct {
	IsUserVerified *bool `json:"isUserVerified"`
	Count          int   `json:"count,omitempty"` // 0: every verification until cleared
}

// POST /v1/test/uv: the outcome of the next count verifications.
func (s *Server) setUserVerified(w http.ResponseWriter, r *http.Request) {
	var in userVerifiedJSON
	if !readJSON(w, r, &in) {
		return
	}
	if in.IsUserVerified == nil {
		badRequest(w, "isUserVerified is required: true approves, false denies")
		return
	}
	if in.Count < 0 {
		badRequest(w, "count %d: want 0 (every verification until cleared) or more", in.Count)
		return
	}
	s.P.SetUserVerified(*in.IsUserVerified, in.Count)
	s.testLog().Warn("test control: user verification scripted", "verified", *in.IsUserVerified, "count", in.Count)
	writeJSON(w, http.StatusOK, in)
}

// DELETE /v1/test/uv: the configured methods decide again.
func (s *Server) clearUserVerified(w http.ResponseWriter, r *http.Request) {
	s.P.ClearUserVerified()
	s.testLog().Warn("test control: user verification back to the configured methods")
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// ---- faults ----

// faultJSON is a fault on the wire. status is a number or a CTAP name
// ("OPERATION_DENIED", "CTAP2_ERR_OPERATION_DENIED", "0x27"); answers name
// it. delay is a Go duration ("250ms").
type faultJSON struct {
	ID          int             `json:"id,omitempty"`
	Kind        string          `json:"kind"`
	Op          string          `json:"op,omitempty"`
	Count       int             `json:"count,omitempty"`
	Status      json.RawMessage `json:"status,omitempty"`
	CredmanCode string          `json:"credmanCode,omitempty"`
	Delay       string          `json:"delay,omitempty"`
}

func faultToJSON(f provider.Fault) faultJSON {
	out := faultJSON{ID: f.ID, Kind: string(f.Kind), Op: string(f.Op), Count: f.Count, CredmanCode: f.CredmanCode}
	if f.Status != ctap.StatusOK {
		out.Status, _ = json.Marshal(f.Status.Name())
	}
	if f.Delay != 0 {
		out.Delay = f.Delay.String()
	}
	return out
}

// fault checks a fault and decodes it: op defaults to any, count to 1, and
// each detail belongs to its kind only.
func (f faultJSON) fault() (provider.Fault, error) {
	out := provider.Fault{Kind: provider.FaultKind(f.Kind), Op: provider.FaultOp(f.Op), Count: f.Count,
		CredmanCode: f.CredmanCode}
	if out.Op == "" {
		out.Op = provider.FaultOpAny
	}
	if out.Count == 0 {
		out.Count = 1
	}
	if !knownFaultKind(out.Kind) {
		return out, fmt.Errorf("kind %q is not one of %s", f.Kind, faultKindList())
	}
	if len(f.Status) > 0 {
		st, err := parseStatusJSON(f.Status)
		if err != nil {
			return out, err
		}
		out.Status = st
	}
	if f.Delay != "" {
		d, err := time.ParseDuration(f.Delay)
		if err != nil {
			return out, fmt.Errorf("delay %q is not a duration such as 250ms or 2s", f.Delay)
		}
		out.Delay = d
	}
	return out, checkFaultDetails(out)
}

func knownFaultKind(k provider.FaultKind) bool {
	for _, known := range provider.FaultKinds {
		if k == known {
			return true
		}
	}
	return false
}

func faultKindList() string {
	names := make([]string, len(provider.FaultKinds))
	for i, k := range provider.FaultKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// checkFaultDetails refuses a detail given to a kind that ignores it (a
// typo would otherwise inject something else than meant).
func checkFaultDetails(f provider.Fault) error {
	switch {
	case f.Kind == provider.FaultStatus && f.Status == ctap.StatusOK:
		return errors.New("a status fault needs a status, e.g. \"OPERATION_DENIED\"")
	case f.Kind != provider.FaultStatus && f.Status != ctap.StatusOK:
		return fmt.Errorf("status applies to kind %s only", provider.FaultStatus)
	case f.Kind == provider.FaultCredmanError && f.CredmanCode == "":
		return fmt.Errorf("a credman-error fault needs a credmanCode: %s", credmanCodeList())
	case f.Kind == provider.FaultCredmanError && !knownCredmanCode(f.CredmanCode):
		return fmt.Errorf("credmanCode %q is not one of %s", f.CredmanCode, credmanCodeList())
	case f.Kind != provider.FaultCredmanError && f.CredmanCode != "":
		return fmt.Errorf("credmanCode applies to kind %s only", provider.FaultCredmanError)
	case f.Kind == provider.FaultDelay && f.Delay == 0:
		return errors.New("a delay fault needs a delay, e.g. \"250ms\"")
	case f.Kind != provider.FaultDelay && f.Delay != 0:
		return fmt.Errorf("delay applies to kind %s only", provider.FaultDelay)
	}
	return nil
}

func knownCredmanCode(code string) bool {
	for _, e := range credman.Codes {
		if e.Code == code {
			return true
		}
	}
	return false
}

func credmanCodeList() string {
	codes := make([]string, len(credman.Codes))
	for i, e := range credman.Codes {
		codes[i] = e.Code
	}
	return strings.Join(codes, ", ")
}

// parseStatusJSON reads a status given as a JSON number or string.
func parseStatusJSON(raw json.RawMessage) (ctap.Status, error) {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		if n <= 0 || n > 0xff {
			return 0, fmt.Errorf("status %d is not a CTAP error code (1 to 255)", n)
		}
		return ctap.Status(n), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return 0, fmt.Errorf("status must be a number or a CTAP name such as \"OPERATION_DENIED\"")
	}
	return ParseStatus(name)
}

// ParseStatus reads a CTAP status by its specification name, with or
// without the CTAP1_ERR_/CTAP2_ERR_ prefix and in any case
// ("OPERATION_DENIED", "ctap2_err_operation_denied"), or by number ("39",
// "0x27").
func ParseStatus(name string) (ctap.Status, error) {
	want := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.ParseUint(want, 0, 8); err == nil && n != 0 {
		return ctap.Status(n), nil
	}
	for i := 1; i <= 0xff; i++ {
		s := ctap.Status(i)
		full := s.Name()
		if strings.HasPrefix(full, "CTAP_STATUS_") {
			continue // no name in the specification
		}
		short := full[strings.Index(full, "_ERR_")+len("_ERR_"):]
		if want == full || want == short || want == "ERR_"+short {
			return s, nil
		}
	}
	return 0, fmt.Errorf("status %q is not a CTAP error name such as OPERATION_DENIED or NO_CREDENTIALS", name)
}

// POST /v1/test/faults: queue a fault; the answer has its id.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) {
	var in faultJSON
	if !readJSON(w, r, &in) {
		return
	}
	f, err := in.fault()
	if err == nil {
		f, err = s.P.InjectFault(f)
	}
	if err != nil {
		badRequest(w, "%s", strings.TrimPrefix(err.Error(), "provider: "))
		return
	}
	writeJSON(w, http.StatusOK, faultToJSON(f))
}

// GET /v1/test/faults: the faults still queued, with the uses left.
func (s *Server) listFaults(w http.ResponseWriter, r *http.Request) {
	queued := s.P.Faults()
	out := make([]faultJSON, len(queued))
	for i, f := range queued {
		out[i] = faultToJSON(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"faults": out})
}

// DELETE /v1/test/faults: drop every queued fault.
func (s *Server) clearFaults(w http.ResponseWriter, r *http.Request) {
	s.P.ClearFaults()
	s.testLog().Warn("test control: faults cleared")
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// ---- events ----

// EventSubscribed is the first line of every /v1/test/events stream: from
// then on, every event is delivered.
const EventSubscribed = "subscribed"

// eventJSON is one line of /v1/test/events.
type eventJSON struct {
	Type         string    `json:"type"`
	Time         time.Time `json:"time"`
	CredentialID string    `json:"credentialId,omitempty"`
	RPID         string    `json:"rpId,omitempty"`
	UserName     string    `json:"userName,omitempty"`
	SignCount    *uint32   `json:"signCount,omitempty"` // credential-asserted: the counter reported
	Operation    string    `json:"operation,omitempty"`
	Outcome      string    `json:"outcome,omitempty"`
	Fault        string    `json:"fault,omitempty"`
}

func eventToJSON(e provider.Event) eventJSON {
	out := eventJSON{Type: string(e.Type), Time: e.Time, CredentialID: b64(e.CredentialID), RPID: e.RPID,
		UserName: e.UserName, Operation: e.Operation, Outcome: e.Outcome, Fault: e.Fault}
	if e.Type == provider.EventCredentialAsserted {
		n := e.SignCount
		out.SignCount = &n
	}
	return out
}

// GET /v1/test/events: JSON lines (application/x-ndjson), one event per
// line, each flushed at once, until the client goes away or the server
// shuts down.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	events, stop := s.P.Subscribe(eventBuffer)
	defer stop()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(e eventJSON) bool {
		return enc.Encode(e) == nil && rc.Flush() == nil
	}
	if !send(eventJSON{Type: EventSubscribed, Time: time.Now().UTC()}) {
		return
	}
	s.testLog().Info("test control: event stream opened")
	defer s.testLog().Info("test control: event stream closed")
	done := s.tc.stopped()
	for {
		select {
		case e, ok := <-events:
			if !ok || !send(eventToJSON(e)) {
				return
			}
		case <-r.Context().Done():
			return
		case <-done:
			return
		}
	}
}

// ---- base64url ----

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// unb64 decodes base64url, padded or not; standard base64 is accepted too
// (Chrome's DevTools protocol uses it).
func unb64(field, s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64url: %v", field, err)
	}
	return b, nil
}
