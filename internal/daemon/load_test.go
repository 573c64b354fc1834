package daemon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/internal/ctapclient"
)

// credPool is the credentials registered so far, shared by every client, so
// that assertions on one credential come from many connections at once.
type credPool struct {
	mu    sync.Mutex
	creds []testCred
}

func (p *credPool) add(c testCred) {
	p.mu.Lock()
	p.creds = append(p.creds, c)
	p.mu.Unlock()
}

func (p *credPool) pick(r *rand.Rand) testCred {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creds[r.IntN(len(p.creds))]
}

// loadClient is one host handle's record of what it did.
type loadClient struct {
	registered int
	counters   map[string][]uint32 // credential ID → counters, in the order received
	errs       []error
}

// TestLoad runs 32 hosts at once on ctaphid.sock, each on its own
// connection, with mixed registrations and assertions for a fixed count.
// Nothing may fail, every signature must verify, and every credential's
// signature counter must strictly increase across all of its assertions,
// whichever connection they came from.
func TestLoad(t *testing.T) {
	const clients, ops = 32, 40 // every 4th operation registers
	cfg := serveConfig(t, "approve")
	d := startDaemon(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	conns := make([]*ctapclient.Client, clients)
	for i := range conns {
		conns[i], _ = dialHID(t, cfg)
	}
	var pool credPool
	regCounter := sync.Map{} // credential ID → counter at registration
	results := make([]*loadClient, clients)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range clients {
		results[i] = &loadClient{counters: map[string][]uint32{}}
		wg.Go(func() {
			runLoadClient(ctx, i, ops, conns[i], &pool, &regCounter, results[i])
		})
	}
	wg.Wait()
	took := time.Since(began)

	var errs []error
	registrations, assertions := 0, 0
	byCred := map[string][]uint32{}
	for i, r := range results {
		for _, err := range r.errs {
			errs = append(errs, fmt.Errorf("client %d: %w", i, err))
		}
		registrations += r.registered
		for id, cs := range r.counters {
			assertions += len(cs)
			if !slices.IsSorted(cs) || len(slices.Compact(slices.Clone(cs))) != len(cs) {
				t.Errorf("client %d, credential %x: counters %v do not strictly increase", i, id[:4], cs)
			}
			byCred[id] = append(byCred[id], cs...)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("%d of %d operations failed; first: %v", len(errs), clients*ops, errs[0])
	}
	if registrations+assertions != clients*ops {
		t.Fatalf("%d registrations + %d assertions, want %d operations", registrations, assertions, clients*ops)
	}
	for id, cs := range byCred {
		slices.Sort(cs)
		if len(slices.Compact(slices.Clone(cs))) != len(cs) {
			t.Errorf("credential %x: a counter value repeats across connections: %v", id[:4], cs)
		}
		if reg, _ := regCounter.Load(id); cs[0] <= reg.(uint32) {
			t.Errorf("credential %x: assertion counter %d not above the registration's %d", id[:4], cs[0], reg)
		}
	}
	n, _, err := d.P.Stats()
	if err != nil || n != registrations {
		t.Errorf("the store holds %d credentials (%v), want %d", n, err, registrations)
	}
	t.Logf("%d clients: %d registrations, %d assertions over %d credentials in %v (%.0f ops/s)",
		clients, registrations, assertions, len(byCred), took.Round(time.Millisecond),
		float64(clients*ops)/took.Seconds())
}

// runLoadClient does ops operations on one connection: a registration
// every 4th operation (discoverable or not, on one of 4 RPs), otherwise an
// assertion with any credential registered so far by any client.
func runLoadClient(ctx context.Context, id, ops int, c *ctapclient.Client, pool *credPool, regCounter *sync.Map, out *loadClient) {
	r := rand.New(rand.NewPCG(uint64(id), 42))
	for op := range ops {
		if op%4 == 0 {
			rp := fmt.Sprintf("rp%d.example", (id+op)%4)
			req := makeCredReq(rp, fmt.Sprintf("user-%d-%d", id, op), (op/4)%2 == 0)
			resp, err := c.MakeCredential(ctx, req, nil)
			if err != nil {
				out.errs = append(out.errs, fmt.Errorf("MakeCredential: %w", err))
				continue
			}
			cred, err := checkRegistration(rp, resp.AuthData)
			if err != nil {
				out.errs = append(out.errs, err)
				continue
			}
			regCounter.Store(string(cred.id), cred.counter)
			pool.add(cred.testCred)
			out.registered++
			continue
		}
		cred := pool.pick(r)
		req := getAssertReq(cred.rp, cred.id)
		resp, err := c.GetAssertion(ctx, req, nil)
		if err != nil {
			out.errs = append(out.errs, fmt.Errorf("GetAssertion: %w", err))
			continue
		}
		counter, err := checkAssertion(cred, req, resp)
		if err != nil {
			out.errs = append(out.errs, err)
			continue
		}
		out.counters[string(cred.id)] = append(out.counters[string(cred.id)], counter)
	}
}
