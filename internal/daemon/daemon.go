// Package daemon assembles passkeyd serve: the store and key backend, the
// user-verification chain, the attestation, the provider, and the servers
// on ctaphid.sock, api.sock and (optionally) /dev/uhid.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/api"
	"github.com/passkeyd/passkeyd/provider"
)

// Socket names inside the runtime directory (DESIGN.md "Contracts").
const (
	CTAPHIDSocket = "ctaphid.sock"
	APISocket     = "api.sock"
)

// Config is what passkeyd serve is told by its flags.
type Config struct {
	StateDir    string
	RuntimeDir  string
	Keystore    string // file, keyring, tpm, memory
	TPM         string // /dev/tpmrm0, tcp:HOST:PORT, sim
	Passphrase  []byte // file backend: derive the master key from this
	Ephemeral   bool   // memory store and keys; nothing written to StateDir
	UV          string // --uv chain
	UVTimeout   time.Duration
	Pinentry    string
	Attestation string // "" means the profile's
	Profile     string // device-bound (default) or synced
	AAGUID      string // overrides the profile's
	BE, BS      *bool  // override the profile's backup flags
	ZeroCounter *bool  // overrides the profile's counter behaviour
	UHID        bool
	UHIDPath    string
	// TestControls serves the test controls on api.sock (/v1/test/):
	// passkeys added, read and removed without user verification, faults,
	// events. For test machines only.
	TestControls bool
	// AllowExport lets the test controls read private keys back (the
	// memory keystore only).
	AllowExport bool
	Version     string
	Logger      *slog.Logger
}

// Daemon is a running passkeyd.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	closers  []io.Closer
	hid      *ctaphid.Server
	api      *http.Server
	P        *provider.Provider
	status   api.Status
	wg       sync.WaitGroup
	serveErr chan error
}

// Start opens everything and starts serving. It returns once both sockets
// accept connections: the daemon is ready.
func Start(cfg Config) (*Daemon, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, serveErr: make(chan error, 3)}
	for _, step := range []func() error{d.prepareDirs, d.openProvider, d.listen} {
		if err := step(); err != nil {
			d.closeAll()
			return nil, err
		}
	}
	return d, nil
}

func (d *Daemon) prepareDirs() error {
	dirs := []string{d.cfg.RuntimeDir}
	if !d.cfg.Ephemeral {
		dirs = append(dirs, d.cfg.StateDir)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("cannot create %s: %w", dir, err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cannot make %s private: %w", dir, err)
		}
	}
	return nil
}

// listen opens the sockets and serves them in the background.
func (d *Daemon) listen() error {
	hidL, err := ctaphid.ListenUnix(filepath.Join(d.cfg.RuntimeDir, CTAPHIDSocket))
	if err != nil {
		return err
	}
	d.closers = append(d.closers, hidL)
	apiL, err := ctaphid.ListenUnix(filepath.Join(d.cfg.RuntimeDir, APISocket))
	if err != nil {
		return err
	}
	d.closers = append(d.closers, apiL)
	d.hid = ctaphid.NewServer(sessionHandler{d.P}, ctaphid.WithLogger(d.log))
	d.goServe("ctaphid.sock", func() error { return d.hid.Serve(hidL) })
	srv := &api.Server{P: d.P, CM: credman.New(d.P), Status: func() api.Status { return d.status }, Log: d.log,
		TestControls: d.cfg.TestControls}
	d.api = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	d.api.RegisterOnShutdown(srv.EndStreams)
	if d.cfg.TestControls {
		d.log.Warn("test controls are on: api.sock adds, reads and removes passkeys and injects faults without asking anyone",
			"allowExport", d.cfg.AllowExport)
	}
	// The virtual USB key comes before api.sock serves: status reads what
	// startUHID writes.
	d.status.UHID = "off"
	if d.cfg.UHID {
		d.startUHID()
	}
	d.goServe("api.sock", func() error { return d.api.Serve(apiL) })
	d.log.Info("passkeyd is ready", "ctaphid", hidL.Addr().String(), "api", apiL.Addr().String())
	return nil
}

func (d *Daemon) goServe(name string, serve func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := serve()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, ctaphid.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			d.log.Error("server stopped", "server", name, "err", err)
			d.serveErr <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// startUHID creates the virtual USB key. Without /dev/uhid the daemon says
// what to do and keeps serving the socket.
func (d *Daemon) startUHID() {
	path := d.cfg.UHIDPath
	if path == "" {
		path = "/dev/uhid"
	}
	dev, err := ctaphid.OpenUHID(path)
	if err != nil {
		d.status.UHID = err.Error()
		d.log.Warn("the virtual USB security key is not available; ctaphid.sock still serves", "err", err)
		return
	}
	d.status.UHID = "on"
	d.goServe("uhid", func() error { return d.hid.ServeUHID(dev) })
	d.log.Info("virtual USB security key created", "device", path)
}

// Errors reports a server that stopped on its own.
func (d *Daemon) Errors() <-chan error { return d.serveErr }

// Shutdown stops accepting, answers or cancels in-flight requests, and
// closes the store.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var errs []error
	if d.api != nil {
		errs = append(errs, d.api.Shutdown(ctx))
	}
	if d.hid != nil {
		errs = append(errs, d.hid.Shutdown(ctx))
	}
	d.wg.Wait()
	errs = append(errs, d.closeAll())
	d.log.Info("passkeyd stopped")
	return errors.Join(errs...)
}

func (d *Daemon) closeAll() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i].Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	d.closers = nil
	return errors.Join(errs...)
}

// sessionHandler gives each CTAPHID channel its own provider session.
type sessionHandler struct{ p *provider.Provider }

func (h sessionHandler) ServeCTAP(ctx context.Context, req []byte, userNeeded func()) []byte {
	if id, ok := ctaphid.ChannelFromContext(ctx); ok {
		ctx = provider.WithSession(ctx, id)
	}
	return h.p.ServeCTAP(ctx, req, userNeeded)
}
