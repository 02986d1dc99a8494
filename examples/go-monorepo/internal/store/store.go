// Package store is shared by the api and the worker: an edit here rebuilds both.
package store

// Version names this build of the store, so a reload is visible in the output.
const Version = "store v1"

// Orders returns the open orders.
func Orders() []string {
	return []string{"order-1", "order-2"}
}
