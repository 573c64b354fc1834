package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docsDir is the committed reference, relative to this package.
const docsDir = "../../docs"

// manDate is the date in a man page's .TH line, which changes every month.
var manDate = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*") "[^"]*"`)

// blankPasskeydEnv hides PASSKEYD_* variables from flag defaults.
func blankPasskeydEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PASSKEYD_") {
			t.Setenv(name, "")
		}
	}
}

// TestDocsUpToDate fails when docs/cli or docs/man no longer match the
// commands. Regenerate with: go run ./cmd/passkeyd gen-docs --dir docs
func TestDocsUpToDate(t *testing.T) {
	blankPasskeydEnv(t)
	fresh := t.TempDir()
	if err := genDocs(fresh); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cli", "man"} {
		want, got := readTree(t, filepath.Join(fresh, sub)), readTree(t, filepath.Join(docsDir, sub))
		for name, w := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("docs/%s/%s is missing", sub, name)
			case manDate.ReplaceAllString(g, "$1") != manDate.ReplaceAllString(w, "$1"):
				t.Errorf("docs/%s/%s is stale", sub, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("docs/%s/%s documents a command that no longer exists", sub, name)
			}
		}
	}
	if t.Failed() {
		t.Log("regenerate with: go run ./cmd/passkeyd gen-docs --dir docs")
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func TestDocsHaveNoMachinePaths(t *testing.T) {
	blankPasskeydEnv(t)
	dir := t.TempDir()
	if err := genDocs(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cli", "passkeyd.md"))
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	if !strings.Contains(string(b), "$XDG_DATA_HOME/passkeyd") || (home != "" && strings.Contains(string(b), home)) {
		t.Errorf("passkeyd.md shows this machine's defaults:\n%s", b)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out := mustRun(t, nil, "completion", shell)
		if !strings.Contains(out, "passkeyd") {
			t.Errorf("completion %s printed no script", shell)
		}
	}
}

// TestNotRunning: every client command says in one line how to start the daemon.
func TestNotRunning(t *testing.T) {
	rt := filepath.Join(shortTempDir(t), "run")
	want := "passkeyd is not running (no daemon at " + rt + "); start it with: passkeyd serve --runtime-dir " + rt
	for _, args := range [][]string{
		{"status"}, {"provider", "status"}, {"passkeys", "list"}, {"passkeys", "show", "abc"},
		{"passkeys", "rename", "abc", "--name", "x"}, {"passkeys", "delete", "--yes", "abc"},
		{"pin", "status"}, {"pin", "set"}, {"pin", "change"}, {"reset", "--yes"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, nil, "", append(args, "--runtime-dir", rt)...)
			oneLine(t, r, exitFailed, want)
		})
	}
	t.Setenv("PASSKEYD_RUNTIME_DIR", rt)
	oneLine(t, runCLI(t, nil, "", "passkeys", "list"), exitFailed, want)
}
