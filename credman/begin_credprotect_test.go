package credman_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// TestBeginGetCredProtect: the begin phase lists only what Get can use, so a
// userVerificationRequired passkey is not offered to a no-UV sign-in.
func TestBeginGetCredProtect(t *testing.T) {
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(), Verifier: userverify.NewMock()})
	if err != nil {
		t.Fatal(err)
	}
	cm := credman.New(p)
	opts := `{"rp":{"id":"example.com","name":"Ex"},"user":{"id":"dTE","name":"u1","displayName":"U1"},
		"challenge":"Y2g","pubKeyCredParams":[{"type":"public-key","alg":-7}],
		"extensions":{"credentialProtectionPolicy":"userVerificationRequired"}}`
	if _, err := cm.Create(context.Background(), credman.CreateRequest{RequestJSON: credman.RequestJSON(opts), Origin: "https://example.com"}); err != nil {
		t.Fatal(err)
	}
	for uv, want := range map[string]int{"required": 1, "preferred": 1, "discouraged": 0} {
		req, _ := json.Marshal(map[string]string{"challenge": "Y2g", "rpId": "example.com", "userVerification": uv})
		entries, err := cm.BeginGet(credman.GetRequest{RequestJSON: req, Origin: "https://example.com"})
		if err != nil || len(entries) != want {
			t.Errorf("userVerification %s: %d entries, %v; want %d", uv, len(entries), err, want)
		}
	}
}
