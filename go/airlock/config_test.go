package airlock

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func writeSnapshot(t *testing.T, path string, value map[string]any) {
	t.Helper()
	data, _ := json.Marshal(value)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Readers racing with reloads always see a consistent snapshot (run with -race).
func TestConfigSwapIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.json")
	t.Setenv("AIRLOCK_CONFIG_FILE", path)
	writeSnapshot(t, path, map[string]any{"a": 0.0, "b": 0.0})
	if err := ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	var changes atomic.Int32
	OnConfigChange(func(next, previous Snapshot) { changes.Add(1) })

	var mixed atomic.Int32
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := 0; i < 4; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := Config()
				if s["a"] != s["b"] {
					mixed.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		writeSnapshot(t, path, map[string]any{"a": float64(i), "b": float64(i)})
		if err := ReloadConfig(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	readers.Wait()
	if mixed.Load() != 0 {
		t.Fatalf("%d reads saw a mix of two snapshots", mixed.Load())
	}
	if Config()["a"] != 200.0 || changes.Load() != 200 {
		t.Fatalf("last snapshot %v, %d changes", Config(), changes.Load())
	}
	os.WriteFile(path, []byte("{broken"), 0o600)
	if err := ReloadConfig(); err == nil || Config()["a"] != 200.0 {
		t.Fatalf("a broken file must keep the old snapshot (err %v)", err)
	}
}

func BenchmarkConfig(b *testing.B) {
	empty := Snapshot{"a": 1.0}
	current.Store(&empty)
	watchOnce.Do(func() {})
	for i := 0; i < b.N; i++ {
		_ = Config()
	}
}
