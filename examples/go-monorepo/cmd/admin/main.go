// admin serves the admin page, embedded from internal/admin/templates.
package main

import (
	"fmt"
	"log"
	"net/http"

	"example.com/shop/internal/admin"
	"github.com/airlock-dev/airlock/go/airlock"
)

func main() {
	ln, err := airlock.Listen("tcp", "")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, admin.Page) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := airlock.Serve(&http.Server{Handler: mux}, ln); err != nil {
		log.Fatal(err)
	}
}
