package procplugin_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-dev/airlock/go/airlock/procplugin"
)

// A Go process plugin in bubblewrap, written as an attacker would: it reads only what it
// was granted, writes only there, reaches no loopback port of the host and sees none of
// the host's environment; the host calls it as any process plugin.
func TestSandboxedPluginGetsOnlyItsGrants(t *testing.T) {
	dir := t.TempDir()
	bin := buildPlugin(t, "snoop", dir)
	secret := filepath.Join(dir, "secret.txt")
	data := filepath.Join(dir, "data")
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("the secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "allowed.txt"), []byte("allowed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	t.Setenv("AIRLOCK_TEST_HOST_SECRET", "do not leak")

	logFile := filepath.Join(dir, "plugin.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, cleanup, err := procplugin.Sandbox(exec.Command(bin), procplugin.Grants{Read: []string{data}, Write: []string{out, logFile}})
	if errors.Is(err, procplugin.ErrNoSandbox) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	client, err := procplugin.Start(cmd, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Kill()
	call := func(method, arg string) string {
		t.Helper()
		var reply string
		if err := client.Call("snoop."+method, arg, &reply); err != nil {
			t.Fatalf("%s(%s): %v", method, arg, err)
		}
		return reply
	}
	if got := call("Read", filepath.Join(data, "allowed.txt")); got != "ok: allowed" {
		t.Errorf("the granted file: %q", got)
	}
	for _, path := range []string{secret, filepath.Join(data, "..", "secret.txt"), filepath.Join(data, "link"), "/proc/self/root" + secret} {
		if got := call("Read", path); !strings.HasPrefix(got, "denied: ") {
			t.Errorf("read %s: %q", path, got)
		}
	}
	// Its pid 1 is the sandbox's own: nothing of the host there either.
	if got := call("Read", "/proc/1/environ"); strings.Contains(got, "AIRLOCK_TEST_HOST_SECRET") {
		t.Errorf("the host's environment through /proc/1: %q", got)
	}
	if got := call("Write", logFile); got != "ok" {
		t.Errorf("a granted file: %q", got)
	}
	if got := call("Write", filepath.Join(out, "result.txt")); got != "ok" {
		t.Errorf("the granted directory: %q", got)
	}
	for _, path := range []string{filepath.Join(dir, "evil.txt"), filepath.Join(data, "evil.txt"), bin, "/tmp/evil.txt", "/evil.txt"} {
		if got := call("Write", path); !strings.HasPrefix(got, "denied: ") {
			t.Errorf("write %s: %q", path, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "evil.txt")); err == nil {
		t.Error("a file outside the grant was written")
	}
	if got := call("Dial", listener.Addr().String()); !strings.HasPrefix(got, "denied: ") {
		t.Errorf("a loopback port of the host: %q", got)
	}
	if got := call("Env", ""); strings.Contains(got, "AIRLOCK_TEST_HOST_SECRET") || strings.Contains(got, "PATH=") {
		t.Errorf("the host's environment leaked in: %q", got)
	}

	// Killed (a swap, a host that gives up on it): nothing of the sandbox stays.
	pid := client.Pid()
	client.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		left := 0
		for _, file := range matches {
			line, err := os.ReadFile(file)
			if err == nil && strings.Contains(string(line), bin) {
				stat, _ := os.ReadFile(strings.TrimSuffix(file, "cmdline") + "stat")
				if !strings.Contains(string(stat), ") Z ") {
					left++
				}
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of the sandbox (bwrap pid %d) are left", left, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("bwrap %d still runs", pid)
	}
}

// A plugin directory as airlock installs it from a channel (its marker there): StartDir runs
// it sandboxed with nothing granted; the same directory without the marker runs plainly.
func TestStartDirSandboxesPluginsFromAChannel(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "snoop")
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	buildPlugin(t, "snoop", plugin)
	if err := os.WriteFile(filepath.Join(plugin, "plugin.json"), []byte(`{"name":"snoop","version":"1.0.0","main":"snoop"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("the secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(client *procplugin.Client) string {
		var reply string
		if err := client.Call("snoop.Read", secret, &reply); err != nil {
			t.Fatal(err)
		}
		return reply
	}
	plain, err := procplugin.StartDir(plugin, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(plain); got != "ok: the secret" {
		t.Errorf("a local plugin without permissions runs plainly: %q", got)
	}
	plain.Kill()

	if err := os.WriteFile(filepath.Join(plugin, procplugin.RemoteMarker), []byte(`{"plugin":"snoop","version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	remote, err := procplugin.StartDir(plugin, 20*time.Second)
	if errors.Is(err, procplugin.ErrNoSandbox) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Kill()
	if got := read(remote); !strings.HasPrefix(got, "denied: ") {
		t.Errorf("a plugin from a channel reads nothing outside its directory: %q", got)
	}

	if err := os.WriteFile(filepath.Join(plugin, "plugin.json"), []byte(`{"name":"snoop","version":"1.0.0","main":"snoop","permissions":{"memoryMB":64}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := procplugin.StartDir(plugin, 20*time.Second); err == nil || !strings.Contains(err.Error(), "enforced by the Node host only") {
		t.Errorf("want limits it cannot enforce refused, got %v", err)
	}
}
