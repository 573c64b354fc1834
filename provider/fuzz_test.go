package provider_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/passkeyd/passkeyd/ctap"
)

// seedMessages are valid requests of every command, for the fuzzers to mutate.
func seedMessages() [][]byte {
	msg := func(cmd ctap.Command, v any) []byte {
		b := []byte{byte(cmd)}
		if v != nil {
			b = append(b, ctap.MustMarshal(v)...)
		}
		return b
	}
	get, off, n := uint(64), uint(0), uint(17)
	return [][]byte{
		msg(ctap.CmdGetInfo, nil),
		msg(ctap.CmdMakeCredential, mcRequest()),
		msg(ctap.CmdGetAssertion, &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh, Options: map[string]bool{"uv": true}}),
		msg(ctap.CmdGetNextAssertion, nil),
		msg(ctap.CmdClientPIN, &ctap.ClientPINRequest{PinUvAuthProtocol: 2, SubCommand: ctap.PINGetKeyAgreement}),
		msg(ctap.CmdClientPIN, &ctap.ClientPINRequest{SubCommand: ctap.PINGetRetries}),
		msg(ctap.CmdCredentialMgmt, &ctap.CredMgmtRequest{SubCommand: ctap.CMGetCredsMetadata, PinUvAuthProtocol: 2, PinUvAuthParam: make([]byte, 32)}),
		msg(ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Get: &get, Offset: &off}),
		msg(ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Set: bytes.Repeat([]byte{1}, 17), Offset: &off, Length: &n}),
		msg(ctap.CmdConfig, &ctap.ConfigRequest{SubCommand: ctap.CfgToggleAlwaysUV}),
		msg(ctap.CmdSelection, nil),
	}
}

// FuzzServeCTAP feeds arbitrary messages to one provider. Invariants: no
// panic; every reply starts with a status byte; a reply with data is OK
// and its CBOR decodes; the provider still registers afterwards.
func FuzzServeCTAP(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		reply := fx.p.ServeCTAP(context.Background(), msg, nil)
		if len(reply) == 0 {
			t.Fatal("empty reply")
		}
		if len(reply) > 1 {
			if reply[0] != 0 {
				t.Fatalf("error status %x with data", reply[0])
			}
			var v any
			if err := ctap.Unmarshal(reply[1:], &v); err != nil {
				t.Fatalf("reply is not valid CBOR: %v", err)
			}
		}
	})
}

// FuzzCommandSequence runs sequences of commands, picked and cut from the
// seeds by the fuzzer's bytes, against one authenticator; after any sequence
// a fresh registration and sign-in must still work.
func FuzzCommandSequence(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{1, 1, 2, 3, 3, 3, 12, 200})
	seeds := seedMessages()
	f.Fuzz(func(t *testing.T, script []byte) {
		fx := newFixture(t)
		ctx := context.Background()
		for i := 0; i+1 < len(script) && i < 64; i += 2 {
			m := seeds[int(script[i])%len(seeds)]
			cut := int(script[i+1]) % (len(m) + 1)
			if script[i+1]&1 == 0 {
				cut = len(m)
			}
			fx.p.ServeCTAP(ctx, m[:cut], nil)
		}
		fx.mock.SetDefault(nil)
		if err := fx.p.SetEnabled(true); err != nil {
			t.Fatal(err)
		}
		req := mcRequest()
		req.User.ID = []byte("after-fuzz")
		if _, err := fx.client.MakeCredential(ctx, req, nil); err != nil {
			t.Fatalf("registration after the sequence: %v", err)
		}
		ga := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh}
		if _, err := fx.client.GetAssertion(ctx, ga, nil); err != nil {
			t.Fatalf("sign-in after the sequence: %v", err)
		}
	})
}
