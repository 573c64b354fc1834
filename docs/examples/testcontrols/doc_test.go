package testcontrols_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docPath is the page that shows these recipes.
const docPath = "../../testing.md"

// include is a marker in docs/testing.md followed by a fenced code block
// that must hold the named file (relative to docs/), or the region
// "// #region NAME" … "// #endregion" of it with #NAME.
var include = regexp.MustCompile("(?m)^<!-- include: ([^ #]+)(?:#([a-z-]+))? -->\n```([a-z]*)\n((?s:.*?))```\n")

// TestDocIncludes keeps the recipes in docs/testing.md the same as the
// files that scripts/interop-testing.sh and go test run. With
// PASSKEYD_UPDATE_DOCS=1 it rewrites the page's copies instead.
func TestDocIncludes(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	updated := include.ReplaceAllStringFunc(string(doc), func(block string) string {
		m := include.FindStringSubmatch(block)
		seen++
		name := m[1]
		if m[2] != "" {
			name += "#" + m[2]
		}
		want, err := source(m[1], m[2])
		if err != nil {
			t.Error(err)
			return block
		}
		if m[4] != want && os.Getenv("PASSKEYD_UPDATE_DOCS") == "" {
			t.Errorf("docs/testing.md: the copy of %s differs from the file (PASSKEYD_UPDATE_DOCS=1 go test ./docs/examples/testcontrols rewrites it)", name)
		}
		return fmt.Sprintf("<!-- include: %s -->\n```%s\n%s```\n", name, m[3], want)
	})
	if seen == 0 {
		t.Fatal("docs/testing.md includes no recipe")
	}
	for _, f := range []string{"helpers.sh", "retry.sh", "counter.sh", "synced.sh", "uv.sh", "events.sh",
		"rp_test.go", "retry_test.go", "counter_test.go", "synced_test.go", "uv_test.go", "events_test.go"} {
		if !strings.Contains(string(doc), "<!-- include: examples/testcontrols/"+f+" -->") {
			t.Errorf("docs/testing.md does not show %s", f)
		}
	}
	if os.Getenv("PASSKEYD_UPDATE_DOCS") != "" && updated != string(doc) {
		if err := os.WriteFile(docPath, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// source reads a file named relative to docs/, or one region of it.
func source(name, region string) (string, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(docPath), name))
	if err != nil {
		return "", err
	}
	text := string(b)
	if region == "" {
		return text, nil
	}
	start := "// #region " + region + "\n"
	i := strings.Index(text, start)
	if i < 0 {
		return "", fmt.Errorf("%s has no region %s", name, region)
	}
	rest := text[i+len(start):]
	j := strings.Index(rest, "// #endregion\n")
	if j < 0 {
		return "", fmt.Errorf("%s: region %s does not end", name, region)
	}
	return rest[:j], nil
}
