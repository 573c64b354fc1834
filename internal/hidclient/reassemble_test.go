package hidclient

import (
	"bytes"
	"errors"
	"testing"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// TestReassembler feeds reports one at a time, as an event loop does.
func TestReassembler(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 20)
	whole, err := ctaphid.Fragment(testCID, ctaphid.CmdCBOR, big)
	if err != nil {
		t.Fatal(err)
	}
	other := ctaphid.InitReport(testCID+1, ctaphid.CmdCBOR, 1, []byte{9})
	keepalive := ctaphid.InitReport(testCID, ctaphid.CmdKeepalive, 1, []byte{ctaphid.StatusUPNeeded})
	cases := []struct {
		name    string
		reports []ctaphid.Report
		want    []byte // after the prefix "ab"
		err     error
	}{
		{"whole", whole, big, nil},
		{"interleaved", []ctaphid.Report{other, ctaphid.ContReport(testCID, 0, nil), keepalive, whole[0], other, whole[1], whole[2], whole[3]}, big, nil},
		{"empty", []ctaphid.Report{ctaphid.InitReport(testCID, ctaphid.CmdCBOR, 0, nil)}, nil, nil},
		{"CTAPHID error", []ctaphid.Report{ctaphid.InitReport(testCID, ctaphid.CmdError, 1, []byte{byte(ctaphid.ErrChannelBusy)})}, nil, ctaphid.ErrChannelBusy},
		{"wrong command", []ctaphid.Report{ctaphid.InitReport(testCID, ctaphid.CmdPing, 1, nil)}, nil, ErrUnexpectedResponse},
		{"out of sequence", []ctaphid.Report{whole[0], whole[2]}, nil, ErrUnexpectedResponse},
		{"too long", []ctaphid.Report{ctaphid.InitReport(testCID, ctaphid.CmdCBOR, ctaphid.MaxMessageSize+1, nil)}, nil, ErrUnexpectedResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a Reassembler
			var statuses []byte
			a.Start([]byte("ab"), testCID, ctaphid.CmdCBOR, func(s byte) { statuses = append(statuses, s) })
			for i, r := range tc.reports {
				resp, done, err := a.Add(&r)
				last := i == len(tc.reports)-1
				switch {
				case err != nil || tc.err != nil && last:
					if !last || !errors.Is(err, tc.err) {
						t.Fatalf("report %d: %v, want %v after the last", i, err, tc.err)
					}
				case done != last:
					t.Fatalf("report %d: done %v", i, done)
				case done && !bytes.Equal(resp, append([]byte("ab"), tc.want...)):
					t.Fatalf("response %q, want ab%q", resp, tc.want)
				}
			}
			if tc.name == "interleaved" && !bytes.Equal(statuses, []byte{ctaphid.StatusUPNeeded}) {
				t.Errorf("keepalive statuses % x", statuses)
			}
		})
	}
}
