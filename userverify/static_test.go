package userverify

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// debugLogger logs at every level: Approve and Deny log their decisions at
// Debug.
func debugLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestApproveDenyAnswerAndLog(t *testing.T) {
	tests := []struct {
		name     string
		v        func(*testing.T) Verifier
		want     error
		decision string
	}{
		{"approve", nil, nil, "decision=approved"},
		{"deny", nil, ErrDenied, "decision=denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, buf := debugLogger()
			var v Verifier = Approve{Logger: logger}
			if tt.name == "deny" {
				v = Deny{Logger: logger}
			}
			req := Request{Operation: OpMakeCredential, RPID: "example.com", UserName: "alice", Reason: "secret-ish reason"}
			wantErr(t, v.Verify(bg, req), tt.want)
			line := buf.String()
			for _, want := range []string{tt.decision, "operation=make-credential", "rp=example.com", "method=" + tt.name} {
				if !strings.Contains(line, want) {
					t.Errorf("log %q lacks %q", line, want)
				}
			}
			if strings.Contains(line, "alice") || strings.Contains(line, "secret-ish") {
				t.Errorf("log %q carries more than decision, operation and rp", line)
			}
			if !IsUnattended(v) || Describe(v) != tt.name {
				t.Errorf("IsUnattended=%v Describe=%q", IsUnattended(v), Describe(v))
			}
		})
	}
}

func TestApproveDoneContext(t *testing.T) {
	logger, buf := debugLogger()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	wantErr(t, Approve{Logger: logger}.Verify(ctx, Request{}), ErrCancelled)
	if !strings.Contains(buf.String(), "decision=cancelled") {
		t.Errorf("log %q", buf.String())
	}
}

// TestApproveQuietAtInfo: at the default level a stream of approvals writes
// nothing, so that a load run is not a logging run.
func TestApproveQuietAtInfo(t *testing.T) {
	logger, buf := testLogger()
	for range 3 {
		wantErr(t, Approve{Logger: logger}.Verify(bg, Request{Operation: OpGetAssertion, RPID: "example.com"}), nil)
	}
	if buf.String() != "" {
		t.Errorf("approvals logged at Info: %q", buf.String())
	}
}
