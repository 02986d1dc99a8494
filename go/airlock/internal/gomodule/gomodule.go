// Package gomodule makes throwaway Go modules for tests that need real builds (hosts and
// -buildmode=plugin plugins): a temporary directory whose go.mod requires this helper
// module from its own checkout, and go commands run in it without any network.
package gomodule

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Module is a temporary Go module.
type Module struct {
	t   *testing.T
	Dir string
}

// New makes module `path` in a temporary directory, requiring github.com/airlock-dev/airlock/go/airlock
// from this checkout. It skips the test where plugins cannot be built (no C compiler).
//
//	m := gomodule.New(t, "example.com/host")
//	m.Write("host/main.go", "package main\n\nfunc main() {}\n")
//	m.Go("build", "-o", "host.bin", "./host")
func New(t *testing.T, path string) *Module {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("-buildmode=plugin needs cgo and a C compiler (gcc): not on this machine")
	}
	_, self, _, _ := runtime.Caller(0)
	helper := filepath.Dir(filepath.Dir(filepath.Dir(self)))
	m := &Module{t: t, Dir: t.TempDir()}
	m.Write("go.mod", "module "+path+"\n\ngo 1.19\n\nrequire github.com/airlock-dev/airlock/go/airlock v0.0.0\n\nreplace github.com/airlock-dev/airlock/go/airlock => "+helper+"\n")
	return m
}

// Write writes a file of the module (its directories too).
func (m *Module) Write(name, text string) {
	m.t.Helper()
	path := filepath.Join(m.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// Go runs the go command in the module, offline; the test fails with its output if it fails.
func (m *Module) Go(args ...string) {
	m.t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = m.Dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		m.t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
