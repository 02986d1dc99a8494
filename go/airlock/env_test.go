package airlock

import (
	"fmt"
	"os"
	"testing"
)

func lookupFrom(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		value, ok := vars[key]
		return value, ok
	}
}

func TestFromLookup(t *testing.T) {
	env := fromLookup(lookupFrom(map[string]string{"AIRLOCK_SERVICE": "api", "AIRLOCK_GENERATION": "3", "PORT": "8080"}))
	if env != (Env{Service: "api", Generation: 3, Port: "8080"}) {
		t.Fatalf("got %+v", env)
	}
	bad := fromLookup(lookupFrom(map[string]string{"AIRLOCK_GENERATION": "x", "PORT": "99999"}))
	if bad != (Env{}) {
		t.Fatalf("malformed values must be ignored, got %+v", bad)
	}
	if got := bad.PortOr("3000"); got != "3000" {
		t.Fatalf("PortOr fallback: got %q", got)
	}
}

func TestParsePortError(t *testing.T) {
	_, err := ParsePort("eighty")
	if err == nil || err.Error() != `airlock: PORT "eighty" is not a port number from 1 to 65535` {
		t.Fatalf("got %v", err)
	}
}

func ExampleFromEnv() {
	os.Setenv("AIRLOCK_SERVICE", "api")
	os.Setenv("AIRLOCK_GENERATION", "2")
	os.Setenv("PORT", "8081")
	env := FromEnv()
	fmt.Println(env.Service, env.Generation, "127.0.0.1:"+env.PortOr("8080"))
	// Output: api 2 127.0.0.1:8081
}
