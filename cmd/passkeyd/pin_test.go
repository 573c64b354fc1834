package main

import (
	"encoding/json"
	"testing"
)

func pinStatusJSON(t *testing.T, td *testDaemon) pinStatus {
	t.Helper()
	var st pinStatus
	if err := json.Unmarshal([]byte(mustRun(t, td, "pin", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPINRoundTrip(t *testing.T) {
	td := startDaemon(t)
	if st := pinStatusJSON(t, td); st.Set || st.Retries != nil {
		t.Fatalf("fresh daemon: %+v", st)
	}

	r := runCLI(t, td, "", "pin", "change")
	oneLine(t, r, exitFailed, "no PIN is set; set one with: passkeyd pin set")

	t.Setenv(envNewPIN, "")
	r = runCLI(t, td, "", "pin", "set")
	oneLine(t, r, exitUsage, "set PASSKEYD_NEW_PIN, or run on a terminal to be asked")

	t.Setenv(envNewPIN, "12")
	r = runCLI(t, td, "", "pin", "set")
	oneLine(t, r, exitFailed, "the PIN does not meet the authenticator's policy")

	t.Setenv(envNewPIN, "1234")
	if out := mustRun(t, td, "pin", "set"); out != "PIN set.\n" {
		t.Errorf("pin set: %q", out)
	}
	if st := pinStatusJSON(t, td); !st.Set || st.Retries == nil || *st.Retries != 8 {
		t.Fatalf("after pin set: %+v", st)
	}
	r = runCLI(t, td, "", "pin", "set")
	oneLine(t, r, exitFailed, "a PIN is already set; change it with: passkeyd pin change")

	t.Setenv(envPIN, "4321")
	t.Setenv(envNewPIN, "567890")
	r = runCLI(t, td, "", "pin", "change")
	oneLine(t, r, exitFailed, "wrong PIN (7 attempts left)")
	if st := pinStatusJSON(t, td); *st.Retries != 7 {
		t.Errorf("after a wrong PIN: %d retries, want 7", *st.Retries)
	}

	t.Setenv(envPIN, "1234")
	if out := mustRun(t, td, "pin", "change"); out != "PIN changed.\n" {
		t.Errorf("pin change: %q", out)
	}
	if st := pinStatusJSON(t, td); *st.Retries != 8 {
		t.Errorf("after the right PIN: %d retries, want 8", *st.Retries)
	}
	r = runCLI(t, td, "", "pin", "change") // the old PIN no longer works
	oneLine(t, r, exitFailed, "wrong PIN")
	t.Setenv(envPIN, "567890")
	mustRun(t, td, "passkeys", "list", "--pin")
}
