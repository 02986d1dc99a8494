package airlock

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func listenerFD(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	file, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); file.Close() })
	return ln, int(file.Fd())
}

func TestListenWithoutAirlock(t *testing.T) {
	ln, err := listen(lookupFrom(map[string]string{"PORT": "0"}), "tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Probe() != nil {
		t.Fatal("no probe listener without airlock")
	}
	if _, err := listen(lookupFrom(map[string]string{}), "tcp", ""); err == nil || err.Error() != "airlock: no address given and PORT is not set" {
		t.Fatalf("got %v", err)
	}
}

func TestListenIgnoresSocketsForAnotherProcess(t *testing.T) {
	ln, err := listen(lookupFrom(map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": "1", "PORT": "0"}), "tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().(*net.TCPAddr).Port == 0 {
		t.Fatal("expected a listener of its own")
	}
}

// The gate protocol end to end: hello on the gate after serving the probe listener,
// no public accept before "go", public accept after it.
func TestGateProtocol(t *testing.T) {
	public, publicFD := listenerFD(t)
	probe, probeFD := listenerFD(t)
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	airlockSide := os.NewFile(uintptr(pair[0]), "airlock-side")
	defer airlockSide.Close()

	listenFD = publicFD
	defer func() { listenFD = 3 }()
	ln, err := listen(lookupFrom(map[string]string{
		"LISTEN_FDS":       "1",
		"LISTEN_PID":       strconv.Itoa(os.Getpid()),
		"AIRLOCK_PROBE_FD": strconv.Itoa(probeFD),
		"AIRLOCK_GATE_FD":  strconv.Itoa(pair[1]),
	}), "tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })}
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- serve(srv, ln, stop) }()

	gate := bufio.NewReader(airlockSide)
	if line, _ := gate.ReadString('\n'); line != "hello\n" {
		t.Fatalf("gate said %q", line)
	}
	if body := get(t, probe.Addr().String()); body != "ok" {
		t.Fatalf("probe answered %q", body)
	}
	client := http.Client{Timeout: 200 * time.Millisecond}
	if _, err := client.Get("http://" + public.Addr().String()); err == nil {
		t.Fatal("public traffic was served before the gate opened")
	}
	fmt.Fprintln(airlockSide, "go")
	if body := get(t, public.Addr().String()); body != "ok" {
		t.Fatalf("public answered %q", body)
	}

	DrainGrace = 10 * time.Millisecond
	stop <- syscall.SIGTERM
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, addr string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	return string(buf[:n])
}
