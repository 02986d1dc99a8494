// worker processes orders in the background; it serves nothing.
package main

import (
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/shop/internal/store"
)

func main() {
	log.Printf("worker (%s) started", store.Version)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(5 * time.Second)
	for {
		select {
		case <-tick.C:
			log.Printf("worker (%s): %d open orders", store.Version, len(store.Orders()))
		case <-stop:
			log.Print("worker stopping")
			return
		}
	}
}
