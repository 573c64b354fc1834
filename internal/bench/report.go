package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/passkeyd/passkeyd/internal/api"
)

// Report is the whole of one `passkeyd bench` invocation, as --json
// prints it and the plot program reads it.
type Report struct {
	Machine  Machine   `json:"machine"`
	Daemon   Daemon    `json:"daemon"`
	Baseline Baseline  `json:"baseline"`
	Runs     []*Result `json:"runs"`
}

// Daemon is what the daemon said about itself before the load.
type Daemon struct {
	Version     string `json:"version"`
	Keystore    string `json:"keystore"`
	UV          string `json:"uv"`
	Credentials int    `json:"credentials"` // stored before the warm-up
}

// DaemonStatus asks the daemon on apiSocket for GET /v1/status.
func DaemonStatus(ctx context.Context, apiSocket string) (api.Status, error) {
	var st api.Status
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", apiSocket)
		}}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://passkeyd/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("bench: GET /v1/status answered %s", resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
	return st, err
}
