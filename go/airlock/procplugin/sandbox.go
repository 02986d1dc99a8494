package procplugin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Grants is what a sandboxed plugin process may touch on the host's file system; all else
// is denied, the network included (it has only a loopback of its own).
type Grants struct {
	// Read lists files or directories it may read.
	Read []string
	// Write lists directories it may read and write (made when missing).
	Write []string
}

// ErrNoSandbox is wrapped when bubblewrap is missing or cannot make namespaces here: the
// plugin is then refused, never run unconfined.
var ErrNoSandbox = errors.New("no sandbox")

// The system's own directories, mounted read-only (a binary linked against libc needs them).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

var (
	bwrapOnce sync.Once
	bwrapPath string
	bwrapErr  error
)

// bubblewrap finds bwrap and checks, once, that it can make namespaces here.
func bubblewrap() (string, error) {
	bwrapOnce.Do(func() {
		path, err := exec.LookPath("bwrap")
		if err != nil {
			bwrapErr = fmt.Errorf("%w: bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)", ErrNoSandbox)
			return
		}
		out, err := exec.Command(path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "--", "/bin/true").CombinedOutput()
		if err != nil {
			bwrapErr = fmt.Errorf("%w: bubblewrap cannot make namespaces here (%s): user namespaces may be disabled", ErrNoSandbox, strings.TrimSpace(string(out)))
			return
		}
		bwrapPath = path
	})
	return bwrapPath, bwrapErr
}

// Sandbox returns cmd wrapped in bubblewrap, for Start: the plugin runs with a file system
// holding only the system's read-only directories, its own binary, the granted paths and
// a private directory for its socket (so no "..", symbolic link or /proc/self/root leads
// elsewhere), a network namespace with nothing but its own loopback, its own process ids,
// no capabilities and none of the host's environment; it dies with the host. Call cleanup
// once the plugin has ended.
//
//	cmd, cleanup, err := procplugin.Sandbox(exec.Command("./enrich-plugin"), procplugin.Grants{Read: []string{"/srv/data"}})
//	client, err := procplugin.Start(cmd, 10*time.Second)
//	defer cleanup()
func Sandbox(cmd *exec.Cmd, grants Grants) (*exec.Cmd, func(), error) {
	bwrap, err := bubblewrap()
	if err != nil {
		return nil, nil, err
	}
	bin, err := filepath.Abs(cmd.Path)
	if err == nil {
		bin, err = filepath.EvalSymlinks(bin)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	// The plugin's socket is made here (its TMPDIR), the one place both sides see.
	socketDir, err := os.MkdirTemp("", "airlock-plugin-sandbox-")
	if err != nil {
		return nil, nil, err
	}
	args := []string{"--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"}
	for _, dir := range systemDirs {
		info, err := os.Lstat(dir)
		if err != nil {
			continue
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(dir)
			if err == nil {
				args = append(args, "--symlink", target, dir)
			}
			continue
		}
		args = append(args, "--ro-bind", dir, dir)
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", bin, bin)
	for _, path := range grants.Read {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, "--ro-bind-try", abs, abs)
	}
	for _, path := range grants.Write {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, nil, err
		}
		// A granted place to write is made (as a directory) if it is not there; a file granted stays a file.
		if _, statErr := os.Stat(abs); statErr != nil {
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return nil, nil, err
			}
		}
		args = append(args, "--bind", abs, abs)
	}
	// The private root and /tmp hold only mount points now: read-only, so nothing is written but to the grants.
	args = append(args, "--bind", socketDir, socketDir, "--remount-ro", "/tmp", "--remount-ro", "/", "--clearenv", "--setenv", "TMPDIR", socketDir, "--chdir", "/", "--", bin)
	args = append(args, cmd.Args[1:]...)
	wrapped := exec.Command(bwrap, args...)
	wrapped.Stdin, wrapped.Stdout, wrapped.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	wrapped.Env = []string{}
	return wrapped, func() { _ = os.RemoveAll(socketDir) }, nil
}
