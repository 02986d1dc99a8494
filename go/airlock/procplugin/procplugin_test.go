package procplugin_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-dev/airlock/go/airlock/procplugin"
)

// buildPlugin builds testdata/<name>, a real plugin process, into dir; it returns the binary's path.
func buildPlugin(tb testing.TB, name, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/"+name).CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestProcessPluginCallsPanicsAndExits(t *testing.T) {
	bin := buildPlugin(t, "echo", t.TempDir())
	var stderr strings.Builder
	cmd := exec.Command(bin)
	cmd.Stderr = &stderr
	// The plugin makes its socket's directory under its TMPDIR; none may be left there.
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	client, err := procplugin.Start(cmd, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Kill() })
	var reply string
	if err := client.Call("echo.Say", "hi", &reply); err != nil || reply != "echo: hi" {
		t.Fatalf("Say: %q, %v", reply, err)
	}

	// A panic inside the plugin ends the plugin process, not the host.
	err = client.Call("echo.Panic", "", &reply)
	if !errors.Is(err, procplugin.ErrExited) {
		t.Fatalf("Panic: want ErrExited, got %v", err)
	}
	select {
	case <-client.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin process did not end after its panic")
	}
	if !strings.Contains(stderr.String(), "the plugin broke") {
		t.Errorf("the plugin's panic should be on its stderr; got %q", stderr.String())
	}
	// It could not remove its socket's directory itself: the host does, once it has ended.
	isEmpty(t, tmp)

	// The host goes on and starts a fresh one.
	again, err := procplugin.Start(exec.Command(bin), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Call("echo.Say", "again", &reply); err != nil || reply != "echo: again" {
		t.Fatalf("Say after a replacement: %q, %v", reply, err)
	}

	// When the host goes its end of stdin closes: the plugin exits by itself.
	pid := again.Pid()
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("plugin process %d still runs after its host let go", pid)
	}

	// Killed outright, it leaves nothing in its TMPDIR either.
	killed := exec.Command(bin)
	killed.Env = append(os.Environ(), "TMPDIR="+tmp)
	third, err := procplugin.Start(killed, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	third.Kill()
	isEmpty(t, tmp)
}

// isEmpty fails the test unless dir holds nothing.
func isEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Fatalf("%s still holds %s after the plugin ended", dir, entries[0].Name())
	}
}

func TestStartRefusesWhatIsNotAPlugin(t *testing.T) {
	_, err := procplugin.Start(exec.Command("sh", "-c", "echo hello; sleep 5"), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), `not a plugin handshake: "hello"`) {
		t.Fatalf("want the handshake named, got %v", err)
	}
	_, err = procplugin.Start(exec.Command("sh", "-c", "exit 3"), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before its handshake") {
		t.Fatalf("want the early exit said, got %v", err)
	}
}

// BenchmarkCall is one RPC into a plugin process and back (go test -bench Call ./procplugin/).
func BenchmarkCall(b *testing.B) {
	bin := buildPlugin(b, "echo", b.TempDir())
	client, err := procplugin.Start(exec.Command(bin), 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Kill()
	var reply string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := client.Call("echo.Say", "hi", &reply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart is a plugin process started until it answers its health check: the
// swap time of a process plugin.
func BenchmarkStart(b *testing.B) {
	bin := buildPlugin(b, "echo", b.TempDir())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		client, err := procplugin.Start(exec.Command(bin), 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		client.Kill()
		b.StartTimer()
	}
}
