package userverify

import (
	"context"
	"strings"
	"testing"
)

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
			logger, buf := testLogger()
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
	logger, buf := testLogger()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	wantErr(t, Approve{Logger: logger}.Verify(ctx, Request{}), ErrCancelled)
	if !strings.Contains(buf.String(), "decision=cancelled") {
		t.Errorf("log %q", buf.String())
	}
}
