package credman_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/credman"
)

// Fuzz targets for the JSON front door: arbitrary requestJson, origins and
// client data hashes through both phases. Invariants: nothing panics, every
// refusal is a *credman.Error with a code and a DOMException name, and every
// answer marshals to JSON.

const fuzzCreationOptions = `{
	"rp": {"id": "example.com", "name": "Example"},
	"user": {"id": "dXNlci0x", "name": "alice", "displayName": "Alice"},
	"challenge": "Y2hhbGxlbmdlLTE",
	"pubKeyCredParams": [{"type": "public-key", "alg": -7}],
	"authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
	"excludeCredentials": [{"type": "public-key", "id": "AAAA"}],
	"extensions": {"credProps": true, "credProtect": 2, "hmacCreateSecret": true, "largeBlob": {"support": "preferred"}}}`

const fuzzRequestOptions = `{"challenge": "Y2hhbGxlbmdlLTI", "rpId": "example.com", "userVerification": "required",
	"allowCredentials": [{"type": "public-key", "id": "AAAA", "transports": ["internal"]}],
	"extensions": {"prf": {"eval": {"first": "AAAA"}}, "largeBlob": {"read": true}}}`

var fuzzOrigins = []string{"https://example.com", "https://login.example.com:8443", "http://localhost:3000",
	"android:apk-key-hash:AAAA", "https://example.org", "", "https://exa mple.com", "example.com"}

// fuzzContext bounds one call; the mock verifier answers at once, so only a
// hang would reach the bound.
func fuzzContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkRefusal fails unless err is nil or a well-formed *credman.Error.
func checkRefusal(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	ce, ok := err.(*credman.Error)
	if !ok {
		t.Fatalf("%s: error %T (%v), want *credman.Error", op, err, err)
	}
	if ce.Code == "" || ce.Name == "" {
		t.Fatalf("%s: error without a code or a name: %#v", op, ce)
	}
}

// checkAnswer fails unless v marshals to JSON.
func checkAnswer(t *testing.T, op string, v any) {
	t.Helper()
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("%s: the answer does not marshal: %v", op, err)
	}
}

func FuzzCredmanCreate(f *testing.F) {
	for _, o := range fuzzOrigins {
		f.Add([]byte(fuzzCreationOptions), o, []byte(nil))
	}
	wrapped, _ := json.Marshal(fuzzCreationOptions)
	f.Add(wrapped, "https://example.com", []byte(nil))
	f.Add([]byte(`{"publicKey":`+fuzzCreationOptions+`}`), "https://example.com", make([]byte, 32))
	f.Add([]byte(`{"rp":{"name":"x"},"user":{"id":"","name":"","displayName":""},"challenge":"","pubKeyCredParams":[],"timeout":1}`), "https://example.com", []byte{1})
	f.Add([]byte(`null`), "", []byte(nil))
	f.Fuzz(func(t *testing.T, requestJSON []byte, origin string, clientDataHash []byte) {
		fx := newFixture(t)
		req := credman.CreateRequest{RequestJSON: requestJSON, Origin: origin, ClientDataHash: clientDataHash}
		entries, err := fx.cm.BeginCreate(req)
		checkRefusal(t, "BeginCreate", err)
		checkAnswer(t, "BeginCreate", entries)
		resp, err := fx.cm.Create(fuzzContext(t), req)
		checkRefusal(t, "Create", err)
		if err == nil && resp == nil {
			t.Fatal("Create: neither an answer nor an error")
		}
		checkAnswer(t, "Create", resp)
	})
}

// chooseRegistered is the credentialId fuzz input that stands for the
// credential the fixture registered, so that the chosen-entry path is
// reached with a real ID.
const chooseRegistered = "\x00"

func FuzzCredmanGet(f *testing.F) {
	for _, o := range fuzzOrigins {
		f.Add([]byte(fuzzRequestOptions), o, []byte(nil), []byte(nil))
	}
	f.Add([]byte(`{"challenge":"Y2hhbGxlbmdlLTI","rpId":"example.com"}`), "https://example.com", []byte(nil), []byte(chooseRegistered))
	f.Add([]byte(`{"challenge":"Y2hhbGxlbmdlLTI"}`), "https://example.com", make([]byte, 32), []byte(nil))
	f.Add([]byte(`{"publicKey":{"challenge":"AA","rpId":"example.com","timeout":0}}`), "https://example.com", []byte(nil), []byte("AAAA"))
	f.Add([]byte(`"{\"challenge\":\"AA\"}"`), "http://localhost", []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, requestJSON []byte, origin string, clientDataHash, credentialID []byte) {
		fx := newFixture(t)
		reg, err := fx.cm.Create(fuzzContext(t), credman.CreateRequest{RequestJSON: []byte(fuzzCreationOptions), Origin: "https://example.com"})
		if err != nil {
			t.Fatalf("registering the credential to sign in with: %v", err)
		}
		if string(credentialID) == chooseRegistered {
			credentialID = []byte(reg.RawID)
		}
		req := credman.GetRequest{RequestJSON: requestJSON, Origin: origin, ClientDataHash: clientDataHash, CredentialID: credentialID}
		entries, err := fx.cm.BeginGet(req)
		checkRefusal(t, "BeginGet", err)
		checkAnswer(t, "BeginGet", entries)
		resp, err := fx.cm.Get(fuzzContext(t), req)
		checkRefusal(t, "Get", err)
		if err == nil && resp == nil {
			t.Fatal("Get: neither an answer nor an error")
		}
		checkAnswer(t, "Get", resp)
	})
}
