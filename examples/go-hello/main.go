// go-hello is the smallest service airlock runs: an HTTP server that says which
// generation answered. Edit the greeting and save; airlock rebuilds and swaps.
//
// It uses the airlock Go helper, so it works under every handoff: it takes the socket
// airlock passes (fd, restart) or listens on $PORT (proxy, or no airlock at all), and
// drains gently on SIGTERM.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/airlock-dev/airlock/go/airlock"
)

const greeting = "hello from go-hello"

func main() {
	if os.Getenv("PORT") == "" {
		os.Setenv("PORT", "8080")
	}
	ln, err := airlock.Listen("tcp", "")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s (generation %s)\n", greeting, os.Getenv("AIRLOCK_GENERATION"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	log.Printf("serving on %s", ln.Addr())
	if err := airlock.Serve(&http.Server{Handler: mux}, ln); err != nil {
		log.Fatal(err)
	}
}
