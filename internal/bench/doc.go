// Package bench measures passkeyd: a load engine that drives a running
// daemon over ctaphid.sock with concurrent CTAPHID clients, the raw ECDSA
// P-256 baselines its figures are read against, and helpers that fill a
// state directory with credentials and time a daemon's start-up.
// `passkeyd bench` is its command line; docs/performance.md holds the
// figures and how to reproduce each.
//
// # Reading the figures
//
// Every rate is paired with a baseline measured in the same process and
// run: GetAssertion against raw parallel signing ([Baseline.SignParallel])
// and MakeCredential against raw parallel key generation and signing
// ([Baseline.KeygenSignParallel]), because those are the work an
// authenticator cannot avoid. The ratio is what the targets of issues 3, 4
// and 10 are stated in, and it travels between machines better than the
// rate does.
//
// The load clients run in this process, on the same machine as the daemon,
// so their own cost (CTAPHID framing, CBOR, system calls) counts against
// the daemon's ratio. They keep that cost small: requests are encoded once
// per credential and patched, replies are read into reused buffers and not
// decoded beyond their status byte, and on Linux one goroutine drives
// every connection through epoll ([DriverEventLoop]) rather than each
// connection having a goroutine of its own ([DriverGoroutines]), which
// spares the Go scheduler's work and two in five of the system calls per
// operation.
// The daemon is asked the same either way: one connection and channel per
// client, and one request in flight on each. [Result.Driver] says which
// ran.
//
// Running the clients on one processor (GOMAXPROCS 1) instead was tried
// and left: with goroutines it cost the clients and the daemon more CPU
// time per operation, not less.
package bench
