package airlock_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/airlock-dev/airlock/go/airlock"
)

// A service that airlock can swap without dropping a request: it takes the socket airlock
// passes (or listens on 127.0.0.1:$PORT on its own), and drains gently on SIGTERM.
func ExampleServe() {
	ln, err := airlock.Listen("tcp", "")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := airlock.Serve(&http.Server{Handler: mux}, ln); err != nil {
		log.Fatal(err)
	}
}
