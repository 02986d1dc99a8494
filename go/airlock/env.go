package airlock

import (
	"fmt"
	"os"
	"strconv"
)

// Env is what airlock tells a generation about itself.
type Env struct {
	// Service is the service name from airlock.yaml; empty when not run by airlock.
	Service string
	// Generation counts started processes of the service: 1, then one more per reload.
	// Zero when not run by airlock.
	Generation int
	// Port is the port to listen on; empty when the service has no listen address.
	Port string
}

// FromEnv reads the airlock variables from the process environment.
func FromEnv() Env {
	return fromLookup(os.LookupEnv)
}

// fromLookup reads the variables through lookup, so tests can inject an environment.
func fromLookup(lookup func(string) (string, bool)) Env {
	var env Env
	env.Service, _ = lookup("AIRLOCK_SERVICE")
	if value, ok := lookup("AIRLOCK_GENERATION"); ok {
		if n, err := strconv.Atoi(value); err == nil && n > 0 {
			env.Generation = n
		}
	}
	if value, ok := lookup("PORT"); ok {
		if _, err := ParsePort(value); err == nil {
			env.Port = value
		}
	}
	return env
}

// PortOr returns the port airlock assigned, or fallback when there is none.
func (e Env) PortOr(fallback string) string {
	if e.Port == "" {
		return fallback
	}
	return e.Port
}

// ParsePort checks that value is a TCP port number from 1 to 65535.
func ParsePort(value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("airlock: PORT %q is not a port number from 1 to 65535", value)
	}
	return n, nil
}
