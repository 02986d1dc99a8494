package airlock

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// DrainGrace is how long a stopping server, which has already closed its listener, keeps
// answering on connections that are open (with Connection: close) before it closes the
// idle ones. Closing idle keep-alive connections at once fails requests that clients are
// sending on them at that moment; this grace lets them arrive and be answered instead.
var DrainGrace = 500 * time.Millisecond

// DrainTimeout bounds how long requests in flight may take to finish after a stop signal.
var DrainTimeout = 25 * time.Second

// Serve serves srv on ln until SIGTERM or SIGINT, then drains gently and returns nil.
// With airlock's gate protocol it also serves the private probe listener, says hello,
// and accepts public connections only once airlock opens the gate.
//
// airlock may shorten DrainGrace through AIRLOCK_DRAIN_GRACE_MS (it does for the restart
// handoff, where new connections wait in the kernel while the old process drains).
func Serve(srv *http.Server, ln *Listener) error {
	if ms, err := strconv.Atoi(os.Getenv("AIRLOCK_DRAIN_GRACE_MS")); err == nil && ms >= 0 {
		DrainGrace = time.Duration(ms) * time.Millisecond
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	return serve(srv, ln, stop)
}

func serve(srv *http.Server, ln *Listener, stop <-chan os.Signal) error {
	var draining atomic.Bool
	handler := srv.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			// The server closes the connection after this response: the client's next
			// request opens a new one, which reaches the new generation.
			w.Header().Set("Connection", "close")
		}
		handler.ServeHTTP(w, r)
	})

	errs := make(chan error, 2)
	if probe := ln.Probe(); probe != nil {
		go func() { errs <- srv.Serve(probe) }()
		ln.Hello()
	}
	go func() { errs <- srv.Serve(ln) }()

	select {
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-stop:
	}
	// Stop accepting at once (other generations take new connections), but keep
	// answering the connections already open for a short grace, with Connection: close.
	draining.Store(true)
	ln.Close()
	time.Sleep(DrainGrace)
	ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return err
	}
	if errors.Is(err, net.ErrClosed) {
		// Shutdown closing the listener we closed first.
		return nil
	}
	return err
}
