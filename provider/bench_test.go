package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/passkeyd/passkeyd/ctap"
)

// The baselines: raw ECDSA P-256, measured in the same run. Read the
// provider's numbers as ratios against them (docs/performance.md).

func BenchmarkBaselineSign(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("x"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineKeygenSign(b *testing.B) {
	h := sha256.Sum256([]byte("x"))
	for b.Loop() {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := ecdsa.SignASN1(rand.Reader, key, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAssertion: one discoverable credential, UV by the mock, memory store.
func BenchmarkGetAssertion(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.p.MakeCredential(ctx, mcRequest()); err != nil {
		b.Fatal(err)
	}
	req := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"uv": true}}
	for b.Loop() {
		if _, err := f.p.GetAssertion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMakeCredential: discoverable, UV by the mock, memory store.
func BenchmarkMakeCredential(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.p.MakeCredential(ctx, mcRequest()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeCTAPGetAssertion adds the CBOR decode and encode.
func BenchmarkServeCTAPGetAssertion(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.p.MakeCredential(ctx, mcRequest()); err != nil {
		b.Fatal(err)
	}
	msg := append([]byte{byte(ctap.CmdGetAssertion)}, ctap.MustMarshal(&ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"uv": true}})...)
	for b.Loop() {
		if r := f.p.ServeCTAP(ctx, msg, nil); r[0] != 0 {
			b.Fatalf("status %x", r[0])
		}
	}
}
