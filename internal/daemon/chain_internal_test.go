package daemon

import "testing"

func TestChainHas(t *testing.T) {
	for spec, want := range map[string]bool{"biometric,pin": true, "pin": true, " pin ,approve": true,
		"command:/usr/bin/pinhook": false, "approve": false, "biometric": false} {
		if got := chainHas(spec, "pin"); got != want {
			t.Errorf("chainHas(%q, pin) = %v, want %v", spec, got, want)
		}
	}
}
