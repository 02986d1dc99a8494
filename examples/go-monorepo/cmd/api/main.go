// api serves the open orders over HTTP.
package main

import (
	"fmt"
	"log"
	"net/http"
	"strings"

	"example.com/shop/internal/store"
	"github.com/airlock-dev/airlock/go/airlock"
)

func main() {
	ln, err := airlock.Listen("tcp", "")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api (%s): %s\n", store.Version, strings.Join(store.Orders(), ", "))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := airlock.Serve(&http.Server{Handler: mux}, ln); err != nil {
		log.Fatal(err)
	}
}
