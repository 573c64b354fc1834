package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// dirs are the state and runtime directories (DESIGN.md "Contracts"):
// --state-dir / PASSKEYD_STATE_DIR, default $XDG_DATA_HOME/passkeyd;
// --runtime-dir / PASSKEYD_RUNTIME_DIR, default $XDG_RUNTIME_DIR/passkeyd.
type dirs struct {
	state, runtime string
}

func (d *dirs) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&d.state, "state-dir", envOr("PASSKEYD_STATE_DIR", defaultStateDir()),
		"where passkeys and settings are kept (env PASSKEYD_STATE_DIR)")
	cmd.PersistentFlags().StringVar(&d.runtime, "runtime-dir", envOr("PASSKEYD_RUNTIME_DIR", defaultRuntimeDir()),
		"where the daemon's sockets are (env PASSKEYD_RUNTIME_DIR)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func defaultStateDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "passkeyd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "passkeyd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("passkeyd-state-%d", os.Getuid()))
}

func defaultRuntimeDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, "passkeyd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("passkeyd-%d", os.Getuid()))
}
