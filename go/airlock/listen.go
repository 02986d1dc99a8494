package airlock

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
)

// listenFD is where the shared public listener arrives (LISTEN_FDS=1, the first of
// systemd's SD_LISTEN_FDS_START); a variable so tests can point it elsewhere.
var listenFD = 3

// Listener is the listener Listen returns. With airlock's fd or restart handoff it wraps
// the inherited socket, and Accept waits until airlock opens the gate: after this
// generation's health probe passed on its private probe listener.
type Listener struct {
	net.Listener
	probe net.Listener // nil without the gate protocol
	gate  *os.File     // nil without the gate protocol

	open     chan struct{}
	openOnce sync.Once
	helloed  sync.Once
}

// Probe returns the private listener airlock probes this generation on, or nil.
func (l *Listener) Probe() net.Listener { return l.probe }

// Accept waits for the gate, then accepts from the shared socket.
func (l *Listener) Accept() (net.Conn, error) {
	<-l.open
	return l.Listener.Accept()
}

// Close closes this process's copy of the socket; airlock and other generations keep theirs.
func (l *Listener) Close() error {
	l.openGate()
	// The probe listener is closed by whoever serves it (Serve's http.Server does).
	return l.Listener.Close()
}

func (l *Listener) openGate() { l.openOnce.Do(func() { close(l.open) }) }

// Hello tells airlock that this process serves on the probe listener, so its health can
// be checked there before it gets public traffic. Serve calls it; call it yourself if
// you serve Probe() another way.
func (l *Listener) Hello() {
	if l.gate == nil {
		return
	}
	l.helloed.Do(func() {
		fmt.Fprintln(l.gate, "hello")
		go l.waitForGo()
	})
}

func (l *Listener) waitForGo() {
	lines := bufio.NewScanner(l.gate)
	for lines.Scan() {
		if lines.Text() == "go" {
			l.openGate()
			return
		}
	}
	// airlock went away: nothing will open the gate, and nothing should wait for it.
	l.openGate()
}

// Listen returns the socket airlock passed (LISTEN_FDS with LISTEN_PID equal to this
// process), or else a normal listener on addr. An empty addr means 127.0.0.1:$PORT.
func Listen(network, addr string) (*Listener, error) {
	return listen(os.LookupEnv, network, addr)
}

func listen(lookup func(string) (string, bool), network, addr string) (*Listener, error) {
	inherited, err := inheritedListener(lookup)
	if err != nil {
		return nil, err
	}
	if inherited != nil {
		return inherited, nil
	}
	if addr == "" {
		port, ok := lookup("PORT")
		if !ok {
			return nil, errors.New("airlock: no address given and PORT is not set")
		}
		addr = "127.0.0.1:" + port
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("airlock: listen %s: %w", addr, err)
	}
	l := &Listener{Listener: ln, open: make(chan struct{})}
	l.openGate()
	return l, nil
}

func inheritedListener(lookup func(string) (string, bool)) (*Listener, error) {
	fds, ok := lookup("LISTEN_FDS")
	if !ok || fds == "" {
		return nil, nil
	}
	if pid, ok := lookup("LISTEN_PID"); ok && pid != strconv.Itoa(os.Getpid()) {
		// Meant for another process (systemd rules): ignore, as go-systemd does.
		return nil, nil
	}
	if n, err := strconv.Atoi(fds); err != nil || n < 1 {
		return nil, fmt.Errorf("airlock: LISTEN_FDS=%q is not a positive count", fds)
	}
	ln, err := fileListener(listenFD, "airlock-listener")
	if err != nil {
		return nil, err
	}
	l := &Listener{Listener: ln, open: make(chan struct{})}
	probeFD, hasProbe := lookup("AIRLOCK_PROBE_FD")
	gateFD, hasGate := lookup("AIRLOCK_GATE_FD")
	if !hasProbe || !hasGate {
		l.openGate()
		return l, nil
	}
	if l.probe, err = fileListener(atoi(probeFD), "airlock-probe"); err != nil {
		ln.Close()
		return nil, err
	}
	l.gate = os.NewFile(uintptr(atoi(gateFD)), "airlock-gate")
	return l, nil
}

func atoi(text string) int {
	n, _ := strconv.Atoi(text)
	return n
}

func fileListener(fd int, name string) (net.Listener, error) {
	file := os.NewFile(uintptr(fd), name)
	if file == nil {
		return nil, fmt.Errorf("airlock: fd %d (%s) is not open", fd, name)
	}
	defer file.Close() // net.FileListener dups it
	ln, err := net.FileListener(file)
	if err != nil {
		return nil, fmt.Errorf("airlock: fd %d (%s) is not a listening socket: %w", fd, name, err)
	}
	return ln, nil
}
