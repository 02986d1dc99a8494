// A process plugin for the sandbox tests, written as an attacker would: it tries to read,
// write, connect and look at its environment, and says what it got.
package main

import (
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/airlock-dev/airlock/go/airlock/procplugin"
)

// Snoop tries things.
type Snoop struct{}

// Read returns a file's content or the error.
func (Snoop) Read(path string, reply *string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		*reply = "denied: " + err.Error()
		return nil
	}
	*reply = "ok: " + string(data)
	return nil
}

// Write writes a file, or says why not.
func (Snoop) Write(path string, reply *string) error {
	if err := os.WriteFile(path, []byte("pwned"), 0o644); err != nil {
		*reply = "denied: " + err.Error()
		return nil
	}
	*reply = "ok"
	return nil
}

// Dial connects to a TCP address, or says why not.
func (Snoop) Dial(addr string, reply *string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		*reply = "denied: " + err.Error()
		return nil
	}
	conn.Close()
	*reply = "ok"
	return nil
}

// Env lists the variables it was given.
func (Snoop) Env(_ string, reply *string) error {
	*reply = strings.Join(os.Environ(), ",")
	return nil
}

func main() {
	if err := procplugin.Serve("snoop", Snoop{}); err != nil {
		log.Fatal(err)
	}
}
