// Package procplugin runs plugins as child processes (the hashicorp/go-plugin idea, in
// the standard library): code that must not share the host's process — a crash, a panic,
// a leak stays in the child — and that can be replaced by starting a new child, which Go
// .so plugins cannot (they never unload).
//
// The child calls Serve with the value whose methods it offers (net/rpc rules: exported
// methods of the form `func (t *T) Name(args A, reply *R) error`). It listens on a unix
// socket and says where on one handshake line on stdout; it exits when its stdin closes,
// which happens when the host goes, however it goes. The host starts it with Start and
// calls it through the returned Client.
//
//	// child (its own main package)
//	procplugin.Serve("greet", new(Greeter))
//
//	// host
//	client, err := procplugin.Start(exec.Command("./greet-plugin"), 5*time.Second)
//	var reply string
//	err = client.Call("greet.Hello", "ada", &reply)
package procplugin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Protocol is the handshake's version: a host refuses a child speaking another.
const Protocol = "1"

const prefix = "AIRLOCK_PLUGIN|"

// Serve offers rcvr's methods under name to the host that started this process, and
// returns only when the host is gone (stdin closed) or the listener fails.
func Serve(name string, rcvr any) error {
	server := rpc.NewServer()
	if err := server.RegisterName(name, rcvr); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "airlock-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rpc.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	defer ln.Close()
	// Health is always there: the host asks it before it sends work.
	if err := server.RegisterName("Plugin", health{}); err != nil {
		return err
	}
	fmt.Printf("%s%s|unix|%s\n", prefix, Protocol, path)
	hostGone := make(chan struct{})
	go func() {
		// The host holds our stdin open; EOF means it is gone (exited, crashed, killed).
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(hostGone)
		ln.Close()
		os.RemoveAll(dir)
		os.Exit(0)
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-hostGone:
				select {} // the goroutine above exits the process
			default:
				return err
			}
		}
		go server.ServeConn(conn)
	}
}

type health struct{}

// Health answers the host's health check.
func (health) Health(_ struct{}, ok *bool) error {
	*ok = true
	return nil
}

// Client is the host's side of one running plugin process.
type Client struct {
	cmd    *exec.Cmd
	rpc    *rpc.Client
	stdin  io.Closer
	done   chan struct{}
	mu     sync.Mutex
	exited error
	socket string // the plugin's socket, removed by the host once the plugin has ended
}

// ErrExited is wrapped by every call made after the plugin process ended.
var ErrExited = errors.New("the plugin process exited")

// Start runs cmd, reads its handshake line within timeout, connects, and checks its health.
// The child's stderr goes to the host's stderr; its stdout after the handshake is dropped.
func Start(cmd *exec.Cmd, timeout time.Duration) (*Client, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Client{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		c.exited = fmt.Errorf("%w: %v", ErrExited, err)
		if err == nil {
			c.exited = ErrExited
		}
		removeSocket(c.socket, childTempDir(cmd))
		c.mu.Unlock()
		close(c.done)
	}()
	lines := make(chan string, 1)
	go func() {
		reader := bufio.NewReader(stdout)
		line, _ := reader.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, reader)
	}()
	var line string
	select {
	case line = <-lines:
		if line == "" {
			// stdout closed without a line: the process is ending; say how.
			select {
			case <-c.done:
				return nil, fmt.Errorf("%s exited before its handshake: %v", cmd.Path, c.exited)
			case <-time.After(time.Second):
			}
		}
	case <-time.After(timeout):
		c.Kill()
		return nil, fmt.Errorf("%s: no handshake line within %s (the plugin must call procplugin.Serve)", cmd.Path, timeout)
	case <-c.done:
		return nil, fmt.Errorf("%s exited before its handshake: %v", cmd.Path, c.exited)
	}
	parts := strings.Split(strings.TrimPrefix(line, prefix), "|")
	if !strings.HasPrefix(line, prefix) || len(parts) != 3 || parts[1] != "unix" {
		c.Kill()
		return nil, fmt.Errorf("%s: not a plugin handshake: %q (want %s%s|unix|PATH)", cmd.Path, line, prefix, Protocol)
	}
	if parts[0] != Protocol {
		c.Kill()
		return nil, fmt.Errorf("%s speaks plugin protocol %s, this host %s: rebuild it against this go/airlock", cmd.Path, parts[0], Protocol)
	}
	c.mu.Lock()
	c.socket = parts[2]
	if c.exited != nil {
		removeSocket(c.socket, childTempDir(cmd))
	}
	c.mu.Unlock()
	client, err := rpc.Dial("unix", parts[2])
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("%s: connecting to %s: %w", cmd.Path, parts[2], err)
	}
	c.rpc = client
	var ok bool
	if err := c.Call("Plugin.Health", struct{}{}, &ok); err != nil || !ok {
		c.Kill()
		return nil, fmt.Errorf("%s: health check failed: %v", cmd.Path, err)
	}
	return c, nil
}

// removeSocket removes a plugin's socket and the directory Serve made for it, which a plugin
// that panicked or was killed could not: only the shape Serve makes (TMP/airlock-plugin-*/rpc.sock,
// in the plugin's own temp directory), so a handshake cannot make the host remove anything else.
func removeSocket(path, tmp string) {
	dir := filepath.Dir(path)
	if path == "" || filepath.Base(path) != "rpc.sock" || !strings.HasPrefix(filepath.Base(dir), "airlock-plugin-") || filepath.Dir(dir) != filepath.Clean(tmp) {
		return
	}
	_ = os.Remove(path)
	_ = os.Remove(dir) // only when empty
}

// childTempDir is the temp directory cmd's process sees, as os.TempDir would say it there.
func childTempDir(cmd *exec.Cmd) string {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	tmp := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, "TMPDIR=") {
			tmp = strings.TrimPrefix(kv, "TMPDIR=")
		}
	}
	if tmp == "" {
		tmp = "/tmp"
	}
	return tmp
}

// Call invokes method ("name.Method") in the plugin process. A panic or exit there is an
// error here (ErrExited); the host goes on.
func (c *Client) Call(method string, args, reply any) error {
	err := c.rpc.Call(method, args, reply)
	if err == nil {
		return nil
	}
	if errors.Is(err, rpc.ErrShutdown) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		select {
		case <-c.done:
		case <-time.After(time.Second):
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.exited != nil {
			return fmt.Errorf("%s: %w", method, c.exited)
		}
	}
	return err
}

// Exited is closed once the plugin process has ended.
func (c *Client) Exited() <-chan struct{} { return c.done }

// Pid is the plugin process's id.
func (c *Client) Pid() int { return c.cmd.Process.Pid }

// Close ends the plugin gently: its stdin closes and it exits.
func (c *Client) Close() error {
	if c.rpc != nil {
		c.rpc.Close()
	}
	err := c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.Kill()
	}
	return err
}

// Kill ends the plugin process at once.
func (c *Client) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}
