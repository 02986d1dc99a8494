// Package airlock is the Go side of airlock: small helpers for services that airlock
// builds, runs and reloads. It uses the standard library only.
//
// airlock tells each generation of a service about itself through its environment:
// AIRLOCK_SERVICE (the service name), AIRLOCK_GENERATION (1, 2, ... one more per reload)
// and PORT (when the service has a listen address in airlock.yaml). FromEnv reads them:
//
//	env := airlock.FromEnv()
//	addr := "127.0.0.1:" + env.PortOr("8080")
//	log.Printf("%s generation %d on %s", env.Service, env.Generation, addr)
//
// Every error this package returns starts with "airlock: ".
package airlock
