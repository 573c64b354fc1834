package main

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

//go:embed index.html
var indexHTML []byte

// user is an account; it implements webauthn.User.
type user struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// session is one browser (one cookie): the ceremony in progress and who
// signed in.
type session struct {
	pending  *webauthn.SessionData
	newUser  *user // the account a registration in progress is for
	named    *user // the account a sign-in in progress names; nil if discoverable
	signedIn string
}

// server is the relying party. One mutex guards everything: it is a demo.
type server struct {
	wa  *webauthn.WebAuthn
	log *slog.Logger

	mu       sync.Mutex
	users    map[string]*user // by name
	sessions map[string]*session
}

func newServer(rpID, origin string, log *slog.Logger) (*server, error) {
	wa, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "passkeyd demo", RPOrigins: []string{origin}})
	if err != nil {
		return nil, err
	}
	return &server{wa: wa, log: log, users: map[string]*user{}, sessions: map[string]*session{}}, nil
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("POST /register/begin", s.registerBegin)
	mux.HandleFunc("POST /register/finish", s.registerFinish)
	mux.HandleFunc("POST /login/begin", s.loginBegin)
	mux.HandleFunc("POST /login/finish", s.loginFinish)
	mux.HandleFunc("GET /me", s.me)
	return mux
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

func (s *server) registerBegin(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username string }
	if err := readJSON(r, &in); err != nil || !validName.MatchString(in.Username) {
		fail(w, http.StatusBadRequest, "send {\"username\": \"…\"} with 1 to 64 letters, digits or ._@-")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[in.Username]
	if u == nil {
		u = &user{id: randomBytes(16), name: in.Username}
	}
	creation, data, err := s.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	ss := s.session(w, r)
	ss.pending, ss.newUser = data, u
	writeJSON(w, http.StatusOK, creation)
}

func (s *server) registerFinish(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.session(w, r)
	if ss.pending == nil || ss.newUser == nil {
		fail(w, http.StatusBadRequest, "no registration in progress: POST /register/begin first")
		return
	}
	data, u := *ss.pending, ss.newUser
	ss.pending, ss.newUser = nil, nil
	cred, err := s.wa.FinishRegistration(u, data, r)
	if err != nil {
		fail(w, http.StatusBadRequest, "registration not verified: "+describe(err))
		return
	}
	u.creds = append(u.creds, *cred)
	s.users[u.name] = u
	ss.signedIn = u.name
	s.log.Info("registered", "user", u.name, "credential", b64(cred.ID), "uv", cred.Flags.UserVerified)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "username": u.name, "credentialId": b64(cred.ID),
		"userVerified": cred.Flags.UserVerified})
}

func (s *server) loginBegin(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username string }
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "send {} or {\"username\": \"…\"}")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		assertion *protocol.CredentialAssertion
		data      *webauthn.SessionData
		err       error
		named     = s.users[in.Username]
	)
	switch {
	case in.Username == "":
		assertion, data, err = s.wa.BeginDiscoverableLogin()
	case named != nil:
		assertion, data, err = s.wa.BeginLogin(named)
	default:
		fail(w, http.StatusNotFound, "no user "+in.Username+" here; register first")
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	ss := s.session(w, r)
	ss.pending, ss.named = data, named
	writeJSON(w, http.StatusOK, assertion)
}

func (s *server) loginFinish(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.session(w, r)
	if ss.pending == nil {
		fail(w, http.StatusBadRequest, "no sign-in in progress: POST /login/begin first")
		return
	}
	data, u := *ss.pending, ss.named
	ss.pending, ss.named = nil, nil
	var (
		cred *webauthn.Credential
		err  error
	)
	if u != nil {
		cred, err = s.wa.FinishLogin(u, data, r)
	} else {
		var who webauthn.User
		who, cred, err = s.wa.FinishPasskeyLogin(s.byHandle, data, r)
		if err == nil {
			u = who.(*user)
		}
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "sign-in not verified: "+describe(err))
		return
	}
	for i := range u.creds {
		if string(u.creds[i].ID) == string(cred.ID) {
			u.creds[i] = *cred
		}
	}
	ss.signedIn = u.name
	s.log.Info("signed in", "user", u.name, "counter", cred.Authenticator.SignCount)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "username": u.name, "counter": cred.Authenticator.SignCount,
		"userVerified": cred.Flags.UserVerified})
}

// byHandle finds the account a discoverable passkey names. s.mu is held.
func (s *server) byHandle(_, userHandle []byte) (webauthn.User, error) {
	for _, u := range s.users {
		if string(u.id) == string(userHandle) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("no user with handle %s", b64(userHandle))
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name := s.session(w, r).signedIn; name != "" {
		writeJSON(w, http.StatusOK, map[string]string{"username": name})
		return
	}
	fail(w, http.StatusUnauthorized, "not signed in")
}

const cookieName = "demo-rp-session"

// session returns the caller's session, starting one (and its cookie) if
// there is none. s.mu is held.
func (s *server) session(w http.ResponseWriter, r *http.Request) *session {
	if c, err := r.Cookie(cookieName); err == nil {
		if ss := s.sessions[c.Value]; ss != nil {
			return ss
		}
	}
	id := b64(randomBytes(18))
	ss := &session{}
	s.sessions[id] = ss
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return ss
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	return json.Unmarshal(body, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// describe adds go-webauthn's detail to its error.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return err.Error() + ": " + pe.DevInfo
	}
	return err.Error()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
