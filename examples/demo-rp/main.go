// Command demo-rp is a small WebAuthn relying party for trying passkeyd: a
// page with Register and Sign in buttons that call plain
// navigator.credentials.create and .get, and the JSON endpoints behind them,
// verified with go-webauthn. Users and passkeys live in memory.
//
//	go run ./examples/demo-rp -addr 127.0.0.1:8080
//
// It prints its URL (http://localhost:PORT, a secure context for browsers,
// rpId "localhost") as the one line on standard output and logs to standard
// error. The end-to-end tests and docs/examples/register-and-sign-in.sh
// drive it.
//
// # Endpoints
//
//	GET  /                 the page
//	POST /register/begin   {"username"}            → {"publicKey": creation options}
//	POST /register/finish  RegistrationResponseJSON → {"ok", "username", "credentialId"}
//	POST /login/begin      {"username"?}            → {"publicKey": request options}
//	POST /login/finish     AuthenticationResponseJSON → {"ok", "username", "counter"}
//	GET  /me               → {"username"} of the signed-in session, or 401
//
// A session cookie ties a begin to its finish. Errors are {"error": "…"}
// with a 4xx status.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address; port 0 picks a free one")
	rpID := flag.String("rp-id", "localhost", "the relying party ID")
	origin := flag.String("origin", "", "the page's origin (default http://localhost:PORT)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-rp:", err)
		os.Exit(1)
	}
	if *origin == "" {
		*origin = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := newServer(*rpID, *origin, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-rp:", err)
		os.Exit(2)
	}
	fmt.Println(*origin)
	log.Info("demo-rp serving", "url", *origin, "rpId", *rpID, "listen", ln.Addr().String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	hs := &http.Server{Handler: srv.handler()}
	go func() {
		<-stop
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "demo-rp:", err)
		os.Exit(1)
	}
}
