package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/daemon"
)

// apiClient talks to a running daemon over api.sock.
type apiClient struct {
	sock string
	http *http.Client
}

// errNotRunning is the one line a client command prints when no daemon answers.
func errNotRunning(runtimeDir string) error {
	return fmt.Errorf("passkeyd is not running (no daemon at %s); start it with: passkeyd serve --runtime-dir %s",
		runtimeDir, runtimeDir)
}

func newAPIClient(d *dirs) *apiClient {
	sock := filepath.Join(d.runtime, daemon.APISocket)
	return &apiClient{sock: sock, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}}}}
}

// do sends a JSON request and decodes the JSON answer into out. An API
// error comes back as *credman.Error.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://passkeyd"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if _, serr := os.Stat(c.sock); serr != nil || errors.Is(err, os.ErrNotExist) || isRefused(err) {
			return errNotRunning(filepath.Dir(c.sock))
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error *credman.Error }
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			return e.Error
		}
		return fmt.Errorf("api.sock answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// ctx returns a context for one client request.
func requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Minute)
}
