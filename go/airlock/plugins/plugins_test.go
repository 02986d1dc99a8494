package plugins_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-dev/airlock/go/airlock/internal/gomodule"
)

// A real host process that keeps one Loader while builds land in its directory the way
// airlock makes them (each under an import path of its own, through a -overlay map): it
// opens the newest build that fits, skips one built against a changed shared API, and
// refuses one whose plugin path it has loaded already; the build it has keeps serving.
func TestLoaderOpensTheNewestBuildThatFits(t *testing.T) {
	m := gomodule.New(t, "example.com/loader")
	dir := m.Dir
	write, goCmd := m.Write, m.Go
	write("shared/shared.go", "package shared\n\nconst Prefix = \"hello\"\n")
	write("host/main.go", `package main

import (
	"bufio"
	"fmt"
	"os"

	"example.com/loader/shared"
	"github.com/airlock-dev/airlock/go/airlock/plugins"
)

// One line in, one line out: "call" answers with the newest usable build, "refused" lists the skipped ones.
func main() {
	_ = shared.Prefix
	loader := plugins.Open(os.Args[1])
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "call":
			p, build, err := loader.Plugin("greet")
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			sym, err := p.Lookup("Hello")
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			fmt.Printf("build %d: %s\n", build, sym.(func() string)())
		case "refused":
			fmt.Printf("%q\n", loader.Refused())
		}
	}
}
`)
	goCmd("build", "-o", "host.bin", "./host")
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// build n of the plugin, compiled as the package airlock_plugin_<as>/greet.
	build := func(n, as int, text string) {
		t.Helper()
		write("greet/main.go", text)
		virtual := filepath.Join(dir, fmt.Sprintf("airlock_plugin_%d", as), "greet")
		overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(virtual, "main.go"): filepath.Join(dir, "greet", "main.go")}})
		write(fmt.Sprintf("overlay.%d.json", n), string(overlay))
		goCmd("build", "-overlay", filepath.Join(dir, fmt.Sprintf("overlay.%d.json", n)), "-buildmode=plugin", "-o", filepath.Join(out, fmt.Sprintf("greet.%d.so", n)), fmt.Sprintf("./airlock_plugin_%d/greet", as))
	}
	greet := func(word string) string {
		return "package main\n\nimport \"example.com/loader/shared\"\n\nfunc Hello() string { return shared.Prefix + \" " + word + "\" }\n"
	}

	host := exec.Command(filepath.Join(dir, "host.bin"), out)
	stdin, err := host.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = os.Stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = host.Process.Kill()
		_ = host.Wait()
	})
	lines := bufio.NewScanner(stdout)
	ask := func(what string) string {
		t.Helper()
		if _, err := io.WriteString(stdin, what+"\n"); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("the host ended: %v", lines.Err())
		}
		return lines.Text()
	}

	if got := ask("call"); !strings.HasPrefix(got, "error: no build of plugin \"greet\"") {
		t.Errorf("before any build: %q", got)
	}
	build(1, 1, greet("one"))
	if got := ask("call"); got != "build 1: hello one" {
		t.Errorf("first build: %q", got)
	}
	build(2, 2, greet("two"))
	if got := ask("call"); got != "build 2: hello two" {
		t.Errorf("newer build: %q", got)
	}
	// The shared package changes its API after the host was built: build 3 would poison the
	// host if opened, so it is skipped and build 2 keeps serving.
	write("shared/shared.go", "package shared\n\nconst Prefix = \"hello\"\n\n// Extra is new API.\nconst Extra = 1\n")
	build(3, 3, greet("three"))
	if got := ask("call"); got != "build 2: hello two" {
		t.Errorf("after an unfit build: %q", got)
	}
	write("shared/shared.go", "package shared\n\nconst Prefix = \"hello\"\n")
	// Built under the import path of build 2 again: the runtime would say "plugin already loaded".
	build(4, 2, greet("four"))
	if got := ask("call"); got != "build 2: hello two" {
		t.Errorf("after a reused plugin path: %q", got)
	}
	refused := ask("refused")
	if !strings.Contains(refused, "greet.3.so: plugin was built with a different version of package example.com/loader/shared") {
		t.Errorf("build 3 not refused for the shared package: %s", refused)
	}
	if !strings.Contains(refused, "greet.4.so: its plugin path example.com/loader/airlock_plugin_2/greet is loaded already") {
		t.Errorf("build 4 not refused for its plugin path: %s", refused)
	}
	build(5, 5, greet("five"))
	if got := ask("call"); got != "build 5: hello five" {
		t.Errorf("a fitting build after the refused ones: %q", got)
	}
}
