// go-plugins: an HTTP service that takes new Go code without a restart. GET /greet?name=x
// calls Hello from the newest build of plugins/greet that fits this binary (checked by
// go/airlock/plugins before plugin.Open, which would poison the process on a mismatch).
package main

import (
	"fmt"
	"log"
	"net/http"

	"example.com/go-plugins/greeting"
	"github.com/airlock-dev/airlock/go/airlock"
	"github.com/airlock-dev/airlock/go/airlock/plugins"
)

func main() {
	loader := plugins.Open("") // $AIRLOCK_PLUGINS_DIR, set by airlock
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/greet", func(w http.ResponseWriter, r *http.Request) {
		p, build, err := loader.Plugin("greet")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		sym, err := p.Lookup("Hello")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s (plugin build %d, host prefix %q)\n", sym.(func(string) string)(r.URL.Query().Get("name")), build, greeting.Prefix)
	})
	mux.HandleFunc("/refused", func(w http.ResponseWriter, r *http.Request) {
		for _, err := range loader.Refused() {
			fmt.Fprintln(w, err)
		}
	})
	ln, err := airlock.Listen("tcp", "")
	if err != nil {
		log.Fatal(err)
	}
	if err := airlock.Serve(&http.Server{Handler: mux}, ln); err != nil {
		log.Fatal(err)
	}
}
