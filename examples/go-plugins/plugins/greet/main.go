// A Go plugin: airlock builds it with -buildmode=plugin to a new path per build when this
// file changes; the host opens the newest build that fits it, without restarting.
package main

import "example.com/go-plugins/greeting"

// Hello is looked up by the host.
func Hello(name string) string { return greeting.Prefix + " " + name }
