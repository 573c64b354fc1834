package testcontrols_test

import (
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/provider"
)

// Events: what the provider did during a test, in order. Subscribe
// buffers events; a subscriber that falls behind loses the newest.
func TestEvents(t *testing.T) {
	p, _ := newProvider(t, provider.Config{})
	events, stop := p.Subscribe(32)
	defer stop()
	rp := newRelyingParty(t, p)
	erin := newUser("erin")
	if _, err := rp.register(erin); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.signIn(erin); err != nil {
		t.Fatal(err)
	}

	var got []string
	for len(events) > 0 {
		e := <-events
		got = append(got, string(e.Type)+" "+e.Operation)
	}
	want := "verification make-credential, credential-added , verification get-assertion, credential-asserted "
	if strings.Join(got, ", ") != want {
		t.Fatalf("events\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
}
