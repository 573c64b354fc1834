package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// docDefaults are the flag defaults the reference shows instead of the
// values computed on the machine that generates it.
var docDefaults = map[string]string{
	"state-dir":   "$XDG_DATA_HOME/passkeyd",
	"runtime-dir": "$XDG_RUNTIME_DIR/passkeyd",
}

func newGenDocsCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "gen-docs --dir DIR",
		Short:  "Write the CLI reference (markdown in DIR/cli, man pages in DIR/man)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			unsetPasskeydEnv()
			if err := genDocs(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s and %s.\n", filepath.Join(dir, "cli"), filepath.Join(dir, "man"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "docs", "the docs directory")
	return cmd
}

// unsetPasskeydEnv drops PASSKEYD_* variables, which would otherwise become
// flag defaults in the reference.
func unsetPasskeydEnv() {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PASSKEYD_") {
			os.Unsetenv(name)
		}
	}
}

// genDocs writes the markdown reference into dir/cli and man pages into
// dir/man, from a fresh command tree, replacing what was there.
func genDocs(dir string) error {
	root := docRoot()
	md, man := filepath.Join(dir, "cli"), filepath.Join(dir, "man")
	for _, sub := range []string{md, man} {
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
	}
	if err := doc.GenMarkdownTree(root, md); err != nil {
		return fmt.Errorf("cannot write the markdown reference: %v", err)
	}
	header := &doc.GenManHeader{Title: "PASSKEYD", Section: "1", Source: "passkeyd", Manual: "passkeyd manual"}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("cannot write the man pages: %v", err)
	}
	return nil
}

// docRoot is the command tree as a reader should see it: with the
// completion command, without machine-specific defaults or a date stamp.
func docRoot() *cobra.Command {
	root := newRoot()
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if v, ok := docDefaults[f.Name]; ok {
					f.DefValue = v
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}
