package airlock

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// Snapshot is one validated app config, as airlock wrote it (AIRLOCK_CONFIG_FILE). It is
// never modified; a change replaces the whole snapshot.
type Snapshot map[string]any

var (
	current   atomic.Pointer[Snapshot]
	listenMu  sync.Mutex
	listeners []func(next, previous Snapshot)
	watchOnce sync.Once
)

// Config returns the current snapshot: an atomic pointer load, so it costs nanoseconds
// and a reader sees the old snapshot or the new one, never a mix. The first call reads
// the file and starts listening for airlock's signal (AIRLOCK_CONFIG_SIGNAL, default SIGHUP).
func Config() Snapshot {
	if s := current.Load(); s != nil {
		return *s
	}
	if err := ReloadConfig(); err != nil {
		empty := Snapshot{}
		current.CompareAndSwap(nil, &empty)
	}
	watchOnce.Do(watchConfigSignal)
	return *current.Load()
}

// OnConfigChange calls fn after each new snapshot has been swapped in.
func OnConfigChange(fn func(next, previous Snapshot)) {
	Config()
	listenMu.Lock()
	defer listenMu.Unlock()
	listeners = append(listeners, fn)
}

// ReloadConfig reads AIRLOCK_CONFIG_FILE and swaps it in. On error the old snapshot stays.
func ReloadConfig() error {
	path := os.Getenv("AIRLOCK_CONFIG_FILE")
	if path == "" {
		return fmt.Errorf("airlock: AIRLOCK_CONFIG_FILE is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("airlock: read config snapshot: %w", err)
	}
	var next Snapshot
	if err := json.Unmarshal(data, &next); err != nil {
		return fmt.Errorf("airlock: config snapshot %s: %w", path, err)
	}
	previous := current.Swap(&next)
	listenMu.Lock()
	fns := append([]func(next, previous Snapshot){}, listeners...)
	listenMu.Unlock()
	for _, fn := range fns {
		if previous == nil {
			fn(next, Snapshot{})
		} else {
			fn(next, *previous)
		}
	}
	return nil
}

func watchConfigSignal() {
	sig := syscall.SIGHUP
	switch os.Getenv("AIRLOCK_CONFIG_SIGNAL") {
	case "SIGUSR1":
		sig = syscall.SIGUSR1
	case "SIGUSR2":
		sig = syscall.SIGUSR2
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig)
	go func() {
		for range ch {
			ReloadConfig()
		}
	}()
}
