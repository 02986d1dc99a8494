package plugincheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-dev/airlock/go/airlock/internal/gomodule"
	"github.com/airlock-dev/airlock/go/airlock/plugincheck"
)

// A real host and real plugins, built in a temporary module: for each build the host
// prints what Check predicts and then what plugin.Open did. They must agree. Each run is
// its own process: a failed plugin.Open poisons the process that tried it.
func TestCheckPredictsPluginOpen(t *testing.T) {
	m := gomodule.New(t, "example.com/host")
	dir := m.Dir
	write, goCmd := m.Write, m.Go
	write("shared/shared.go", "package shared\n\nvar Greeting = \"hello\"\n")
	write("greet/main.go", "package main\n\nimport \"example.com/host/shared\"\n\nfunc Hello(name string) string { return shared.Greeting + \" \" + name }\n")
	write("host/main.go", `package main

import (
	"fmt"
	"os"
	"plugin"

	"example.com/host/shared"
	"github.com/airlock-dev/airlock/go/airlock/plugincheck"
)

func main() {
	_ = shared.Greeting
	fmt.Println("predicted:", plugincheck.Self(os.Args[1]) == nil)
	_, err := plugin.Open(os.Args[1])
	fmt.Println("opened:", err == nil, err)
}
`)
	goCmd("build", "-o", "host.bin", "./host")
	builds := []struct {
		name  string
		flags []string
		edit  func()
		open  bool
	}{
		{name: "matching", open: true},
		{name: "trimpath", flags: []string{"-trimpath"}, open: false},
		{name: "gcflags", flags: []string{"-gcflags=all=-N -l"}, open: false},
		// A changed value keeps the package's export data, which is what is hashed: accepted.
		{name: "changed-shared-value", edit: func() { write("shared/shared.go", "package shared\n\nvar Greeting = \"hi\"\n") }, open: true},
		{name: "changed-shared-api", edit: func() { write("shared/shared.go", "package shared\n\nvar Greeting = \"hi\"\n\nfunc Extra() {}\n") }, open: false},
	}
	for _, b := range builds {
		if b.edit != nil {
			b.edit()
		}
		so := b.name + ".so"
		goCmd(append(append([]string{"build", "-buildmode=plugin"}, b.flags...), "-o", so, "./greet")...)
		out, err := exec.Command(filepath.Join(dir, "host.bin"), filepath.Join(dir, so)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: host failed: %v\n%s", b.name, err, out)
		}
		if path, err := plugincheck.PluginPath(filepath.Join(dir, so)); err != nil || path != "example.com/host/greet" {
			t.Errorf("%s: plugin path %q, %v; want the package's import path", b.name, path, err)
		}
		text := string(out)
		predicted := strings.Contains(text, "predicted: true")
		opened := strings.Contains(text, "opened: true")
		if predicted != opened || opened != b.open {
			t.Errorf("%s: predicted %v, plugin.Open %v, expected %v\n%s", b.name, predicted, opened, b.open, text)
		}
	}
}

func TestCheckSaysWhatIsNotAPluginHost(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.so")
	if _, err := plugincheck.Hashes(missing); err == nil || !strings.Contains(err.Error(), "missing.so") {
		t.Errorf("want an error naming the file, got %v", err)
	}
	// The test binary does not import "plugin": it cannot host one, and Check says so.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := plugincheck.Check(exe, missing); err == nil || !strings.Contains(err.Error(), `a host must import "plugin"`) {
		t.Errorf("want the host named as unable to open plugins, got %v", err)
	}
}
