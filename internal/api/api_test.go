package api

import (
	"net/http"
	"strings"
	"testing"
)

// wantMethodNotAllowed checks that method on path answers 405
// method_not_allowed with the Allow header allow, and a message that names
// the allowed methods.
func (ts *testServer) wantMethodNotAllowed(t *testing.T, method, path, allow string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != allow {
		t.Fatalf("%s %s: %d Allow %q, want 405 Allow %q", method, path, resp.StatusCode, resp.Header.Get("Allow"), allow)
	}
	e := ts.wantError(t, method, path, nil, http.StatusMethodNotAllowed, "method_not_allowed")
	if !strings.Contains(e.Message, strings.Split(allow, ", ")[0]) || !strings.Contains(e.Message, method) {
		t.Errorf("%s %s: message %q names neither the allowed methods nor the one used", method, path, e.Message)
	}
}

// TestUnroutedRequests: an unknown path is 404 not_found; a known path with
// the wrong method is 405 with an Allow header, so that a developer who
// GETs a POST endpoint learns which method it takes.
func TestUnroutedRequests(t *testing.T) {
	ts := newTestServer(t, false, false)
	e := ts.wantError(t, "GET", "/v1/nope", nil, http.StatusNotFound, "not_found")
	if !strings.Contains(e.Message, "GET /v1/nope") {
		t.Errorf("404 message %q does not name the request", e.Message)
	}
	ts.wantMethodNotAllowed(t, "GET", "/v1/credman/create", "POST")
	ts.wantMethodNotAllowed(t, "DELETE", "/v1/status", "GET")
	ts.wantMethodNotAllowed(t, "GET", "/v1/provider/enable", "POST")
	ts.mustCall(t, "GET", "/v1/status", nil, nil)
}
