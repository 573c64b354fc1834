// Package api serves api.sock: HTTP/1.1 with JSON bodies for the Credential
// Manager front door, the provider switch and status. docs/api.md documents
// every request and response.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/provider"
)

// maxBody bounds request bodies; WebAuthn options are a few kilobytes.
const maxBody = 1 << 20

// Status is what GET /v1/status answers.
type Status struct {
	Version     string `json:"version"`
	Enabled     bool   `json:"enabled"`
	Keystore    string `json:"keystore"`
	UV          string `json:"uv"`
	Unattended  bool   `json:"unattended"` // no person is asked (approve, deny, mock)
	Attestation string `json:"attestation"`
	Profile     string `json:"profile"`
	AAGUID      string `json:"aaguid"`
	Credentials int    `json:"credentials"`
	RPs         int    `json:"rps"`
	StateDir    string `json:"stateDir"`
	RuntimeDir  string `json:"runtimeDir"`
	UHID        string `json:"uhid"` // "on", "off" or why it is unavailable
}

// Server is the api.sock handler.
type Server struct {
	P      *provider.Provider
	CM     *credman.Service
	Status func() Status // the static part; counts are filled in here
	Log    *slog.Logger
	// TestControls serves /v1/test/ (testctl.go); passkeyd serve --test-controls.
	TestControls bool

	tc testCtl
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/provider", s.providerState)
	mux.HandleFunc("POST /v1/provider/enable", s.setEnabled(true))
	mux.HandleFunc("POST /v1/provider/disable", s.setEnabled(false))
	mux.HandleFunc("POST /v1/credman/create", s.create)
	mux.HandleFunc("POST /v1/credman/get", s.get)
	mux.HandleFunc("POST /v1/credman/begin-create", s.beginCreate)
	mux.HandleFunc("POST /v1/credman/begin-get", s.beginGet)
	s.mountTestControls(mux)
	mux.HandleFunc("/", unrouted(mux, "is not an api.sock endpoint (see docs/api.md)"))
	return mux
}

// routeMethods are the methods api.sock routes use.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodDelete}

// unrouted answers a request that no route took: 405 method_not_allowed,
// with an Allow header, when the path has routes for other methods, and
// otherwise 404 not_found with why, after the method and path.
func unrouted(mux *http.ServeMux, why string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, mine := mux.Handler(r)
		var allow []string
		for _, m := range routeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != mine && strings.HasPrefix(pattern, m+" ") {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, &credman.Error{Code: "not_found", Name: "NotFoundError",
				Message: r.Method + " " + r.URL.Path + " " + why})
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, &credman.Error{Code: "method_not_allowed", Name: "NotSupportedError",
			Message: r.URL.Path + " takes " + strings.Join(allow, " or ") + ", not " + r.Method})
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.Status()
	st.Enabled = s.P.Settings().Enabled()
	var err error
	if st.Credentials, st.RPs, err = s.P.Stats(); err != nil {
		writeError(w, http.StatusInternalServerError, &credman.Error{Code: "internal", Name: "UnknownError", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) providerState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": s.P.Settings().Enabled()})
}

func (s *Server) setEnabled(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.P.SetEnabled(on); err != nil {
			writeError(w, http.StatusInternalServerError, &credman.Error{Code: "internal", Name: "UnknownError", Message: err.Error()})
			return
		}
		s.Log.Info("provider switched", "enabled", on)
		writeJSON(w, http.StatusOK, map[string]bool{"enabled": on})
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req credman.CreateRequest
	if !readJSON(w, r, &req) {
		return
	}
	resp, err := s.CM.Create(r.Context(), req)
	reply(w, map[string]any{"registrationResponseJson": resp}, err)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	var req credman.GetRequest
	if !readJSON(w, r, &req) {
		return
	}
	resp, err := s.CM.Get(r.Context(), req)
	reply(w, map[string]any{"authenticationResponseJson": resp}, err)
}

func (s *Server) beginCreate(w http.ResponseWriter, r *http.Request) {
	var req credman.CreateRequest
	if !readJSON(w, r, &req) {
		return
	}
	entries, err := s.CM.BeginCreate(req)
	reply(w, map[string]any{"createEntries": entries}, err)
}

func (s *Server) beginGet(w http.ResponseWriter, r *http.Request) {
	var req credman.GetRequest
	if !readJSON(w, r, &req) {
		return
	}
	entries, err := s.CM.BeginGet(req)
	reply(w, map[string]any{"credentialEntries": entries}, err)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, &credman.Error{Code: "invalid_request", Name: "TypeError",
			Message: "the request body is not the expected JSON: " + err.Error()})
		return false
	}
	return true
}

// reply writes v, or the error with the HTTP status its code deserves.
func reply(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	var ce *credman.Error
	if !errors.As(err, &ce) {
		ce = &credman.Error{Code: "internal", Name: "UnknownError", Message: err.Error()}
	}
	writeError(w, httpStatus(ce), ce)
}

func httpStatus(e *credman.Error) int {
	switch e.Code {
	case credman.ErrInternal.Code:
		return http.StatusInternalServerError
	case credman.ErrNotAllowed.Code, credman.ErrProviderDisabled.Code, credman.ErrLockedOut.Code:
		return http.StatusForbidden
	case credman.ErrNoCredentials.Code, credman.ErrUnknownEntry.Code:
		return http.StatusNotFound
	case credman.ErrExcluded.Code:
		return http.StatusConflict
	case credman.ErrTimeout.Code:
		return http.StatusRequestTimeout
	case credman.ErrCancelled.Code:
		return 499 // client closed the request
	}
	return http.StatusBadRequest
}

func writeError(w http.ResponseWriter, status int, e *credman.Error) {
	writeJSON(w, status, map[string]*credman.Error{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
