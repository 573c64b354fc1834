package userverify

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAssuanEscape(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain text", 100, "plain text"},
		{"100% sure\r\nnext", 100, "100%25 sure%0D%0Anext"},
		{"tab\there", 100, "tab%09here"},
		{"héllo", 100, "héllo"},
		{"abc%", 4, "abc"},  // an escape is never cut in half
		{"aé", 2, "a"},      // nor a character
		{"a\nb", 4, "a%0A"}, // a whole escape fits
		{strings.Repeat("x", 2000), 995, strings.Repeat("x", 995)},
	}
	for _, tt := range tests {
		if got := assuanEscape(tt.in, tt.max); got != tt.want {
			t.Errorf("assuanEscape(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestAssuanResponse(t *testing.T) {
	tests := []struct {
		name     string
		server   string
		want     string
		wantErr  string
		wantSent string
	}{
		{name: "ok", server: "OK\n", want: ""},
		{name: "ok with text", server: "OK Pleased to meet you\n", want: ""},
		{name: "data over lines", server: "# hi\nS PROGRESS 1\nD ab%0A\nD c%25d%2\nOK\n", want: "ab\nc%d%2"},
		{name: "error", server: "ERR 83886179 Operation cancelled <Pinentry>\n", wantErr: "ERR 83886179"},
		{name: "bare ERR", server: "ERR\n", wantErr: "malformed"},
		{name: "bad code", server: "ERR x y\n", wantErr: "malformed"},
		{name: "eof", server: "D 1234\n", wantErr: "failed to read"},
		{name: "too long", server: "D " + strings.Repeat("x", 5000) + "\nOK\n", wantErr: "failed to read"},
		{name: "inquire", server: "INQUIRE PINENTRY_LAUNCHED\nOK\n", want: "", wantSent: "CAN\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent bytes.Buffer
			data, err := newAssuanConn(strings.NewReader(tt.server), &sent).response()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", data, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(data) != tt.want || sent.String() != tt.wantSent {
				t.Fatalf("got %q, %v, sent %q", data, err, sent.String())
			}
		})
	}
}

func TestAssuanErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		line                string
		cancelled, timedOut bool
	}{
		{"ERR 83886179 Operation cancelled", true, false},
		{"ERR 83886278 Fully canceled", true, false},
		{"ERR 99 cancelled from another source", true, false},
		{"ERR 83886142 Timeout", false, true},
		{"ERR 83918950 Inappropriate ioctl for device", false, false},
	} {
		var ae *assuanError
		if err := parseAssuanError(tt.line); !errors.As(err, &ae) || ae.cancelled() != tt.cancelled || ae.timedOut() != tt.timedOut {
			t.Errorf("%q: %v cancelled=%v timedOut=%v", tt.line, err, ae.cancelled(), ae.timedOut())
		}
	}
}

func FuzzAssuanEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a%b", "line\nline", "\x00\x7f", "é%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		escaped := assuanEscape(s, assuanLineMax)
		if strings.ContainsAny(escaped, "\r\n") || len(escaped) > assuanLineMax {
			t.Fatalf("escaped %q to %q", s, escaped)
		}
		got := string(assuanUnescape(nil, []byte(escaped)))
		if !strings.HasPrefix(s, got) && utf8.ValidString(s) {
			t.Fatalf("%q came back as %q", s, got)
		}
	})
}

func FuzzAssuanResponse(f *testing.F) {
	for _, s := range []string{"OK\n", "D a%41\nOK\n", "ERR 1 x\n", "ERR\n", "INQUIRE X\n", "S x\n# y\nOK\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, server string) {
		var sent bytes.Buffer
		data, err := newAssuanConn(strings.NewReader(server), &sent).response()
		if err == nil && !strings.Contains(server, "OK") {
			t.Fatalf("%q answered %q without OK", server, data)
		}
	})
}
