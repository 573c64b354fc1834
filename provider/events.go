package provider

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventType names what happened.
type EventType string

// Event types, the same as the WebDriver / DevTools virtual authenticator's
// events plus each verification asked and each fault injected.
const (
	EventCredentialAdded    EventType = "credential-added"
	EventCredentialAsserted EventType = "credential-asserted"
	EventCredentialDeleted  EventType = "credential-deleted"
	EventCredentialUpdated  EventType = "credential-updated"
	EventVerification       EventType = "verification"
	EventFaultInjected      EventType = "fault-injected"
)

// Event is one thing the provider did. It carries no secret.
type Event struct {
	Type         EventType `json:"type"`
	Time         time.Time `json:"time"`
	CredentialID []byte    `json:"credentialId,omitempty"`
	RPID         string    `json:"rpId,omitempty"`
	UserName     string    `json:"userName,omitempty"`
	SignCount    uint32    `json:"signCount,omitempty"`
	Operation    string    `json:"operation,omitempty"` // verification: what was asked
	Outcome      string    `json:"outcome,omitempty"`   // verification: verified, denied, ...
	Fault        string    `json:"fault,omitempty"`     // fault-injected: its kind
}

// events fans events out to subscribers. A subscriber that does not keep up
// loses events rather than slowing the provider.
type events struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
	n    atomic.Int32 // len(subs), read without the lock on every operation
}

// Subscribe returns a channel of events and a function that ends the
// subscription. buf events are buffered; when the buffer is full, new
// events are dropped for this subscriber.
func (p *Provider) Subscribe(buf int) (<-chan Event, func()) {
	ch := make(chan Event, buf)
	p.events.mu.Lock()
	if p.events.subs == nil {
		p.events.subs = map[chan Event]struct{}{}
	}
	p.events.subs[ch] = struct{}{}
	p.events.n.Store(int32(len(p.events.subs)))
	p.events.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.events.mu.Lock()
			delete(p.events.subs, ch)
			p.events.n.Store(int32(len(p.events.subs)))
			p.events.mu.Unlock()
			close(ch)
		})
	}
}

func (p *Provider) emit(e Event) {
	if p.events.n.Load() == 0 {
		return // nobody listens: no lock on the hot path
	}
	e.Time = p.cfg.Now().UTC()
	p.events.mu.Lock()
	defer p.events.mu.Unlock()
	for ch := range p.events.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
