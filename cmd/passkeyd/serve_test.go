package main

import (
	"errors"
	"log/slog"
	"testing"
)

// TestServeDefaultsValidate: `passkeyd serve` with no flags must start, so
// its default --uv chain (biometric,pin) has to pass the early check; a
// chain with an unknown method is a usage error.
func TestServeDefaultsValidate(t *testing.T) {
	t.Setenv("PASSKEYD_UV", "")
	d := &dirs{state: t.TempDir(), runtime: t.TempDir()}
	f := &serveFlags{}
	if err := serveCommand(d, f).ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if f.uv != "biometric,pin" {
		t.Fatalf("default --uv is %q", f.uv)
	}
	if _, err := f.config(d, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the default flags do not validate: %v", err)
	}
	for spec, bad := range map[string]bool{"approve": false, "command:/bin/true": false, "pin,biometric": false,
		"bogus": true, "approve,": true, "pin:x": true} {
		err := checkUVSpec(spec)
		var ue *usageError
		if bad != (err != nil) || (bad && !errors.As(err, &ue)) {
			t.Errorf("--uv %q: %v", spec, err)
		}
	}
}
