// A process plugin for the tests: Echo answers, Panic panics inside the handler.
package main

import (
	"log"

	"github.com/airlock-dev/airlock/go/airlock/procplugin"
)

// Echo is the plugin's service.
type Echo struct{}

// Say returns what it was given.
func (Echo) Say(text string, reply *string) error {
	*reply = "echo: " + text
	return nil
}

// Panic takes the plugin process down.
func (Echo) Panic(_ string, _ *string) error {
	panic("the plugin broke")
}

func main() {
	if err := procplugin.Serve("echo", Echo{}); err != nil {
		log.Fatal(err)
	}
}
