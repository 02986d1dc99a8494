// Package plugins opens the newest build of each Go plugin that airlock built for this
// program (`plugins: { go: [...] }` in airlock.yaml), and only after plugincheck says
// plugin.Open will accept it: a build that does not fit is skipped and remembered, and
// the one already open keeps serving. Go cannot unload a plugin, so every build airlock
// makes goes to a new path (<name>.<n>.so) and an opened build stays mapped.
//
//	loader := plugins.Open("")                  // $AIRLOCK_PLUGINS_DIR, else .airlock/plugins
//	sym, err := loader.Lookup("greet", "Hello") // the newest checked build's Hello
//	hello := sym.(func(string) string)
package plugins

import (
	"fmt"
	"os"
	"path/filepath"
	"plugin"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/airlock-dev/airlock/go/airlock/plugincheck"
)

// Loader finds, checks and opens plugin builds in one directory.
type Loader struct {
	dir     string
	mu      sync.Mutex
	open    map[string]*opened
	refused map[string]error
	// Plugin paths opened so far: the runtime refuses the same one twice ("plugin already loaded").
	paths map[string]bool
}

type opened struct {
	build int
	path  string
	p     *plugin.Plugin
}

// Open returns the loader for dir; "" means $AIRLOCK_PLUGINS_DIR, else .airlock/plugins.
func Open(dir string) *Loader {
	if dir == "" {
		dir = os.Getenv("AIRLOCK_PLUGINS_DIR")
	}
	if dir == "" {
		dir = filepath.Join(".airlock", "plugins")
	}
	return &Loader{dir: dir, open: map[string]*opened{}, refused: map[string]error{}, paths: map[string]bool{}}
}

type build struct {
	n    int
	path string
}

// builds lists name's builds in the directory, newest (highest n) first.
func (l *Loader) builds(name string) []build {
	var out []build
	entries, _ := os.ReadDir(l.dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), name+".") || !strings.HasSuffix(e.Name(), ".so") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(e.Name(), name+"."), ".so"))
		if err != nil {
			continue
		}
		out = append(out, build{n, filepath.Join(l.dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out
}

// Plugin is the newest build of name that plugin.Open accepts; the build number comes
// with it. A newer build that would not open is skipped (and said in the error when no
// build at all can be used), never opened.
func (l *Loader) Plugin(name string) (*plugin.Plugin, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	current := l.open[name]
	var refusal error
	for _, b := range l.builds(name) {
		if current != nil && b.n <= current.build {
			break
		}
		if err, seen := l.refused[b.path]; seen {
			refusal = err
			continue
		}
		pluginPath, err := plugincheck.PluginPath(b.path)
		if err == nil && l.paths[pluginPath] {
			err = fmt.Errorf("its plugin path %s is loaded already (build each version under an import path of its own, as airlock does)", pluginPath)
		}
		if err == nil {
			err = plugincheck.Self(b.path)
		}
		if err != nil {
			l.refused[b.path] = fmt.Errorf("%s: %w", filepath.Base(b.path), err)
			refusal = l.refused[b.path]
			continue
		}
		p, err := plugin.Open(b.path)
		if err != nil {
			// Predicted to open, yet it did not: remembered (Refused says why), and nothing
			// newer is tried after it; the build already open, if any, keeps serving.
			l.refused[b.path] = fmt.Errorf("%s: %w", filepath.Base(b.path), err)
			if current == nil {
				return nil, 0, l.refused[b.path]
			}
			break
		}
		l.paths[pluginPath] = true
		current = &opened{build: b.n, path: b.path, p: p}
		l.open[name] = current
		break
	}
	if current == nil {
		if refusal != nil {
			return nil, 0, refusal
		}
		return nil, 0, fmt.Errorf("no build of plugin %q in %s yet", name, l.dir)
	}
	return current.p, current.build, nil
}

// Lookup finds a symbol in the newest usable build of name.
func (l *Loader) Lookup(name, symbol string) (plugin.Symbol, error) {
	p, _, err := l.Plugin(name)
	if err != nil {
		return nil, err
	}
	return p.Lookup(symbol)
}

// Refused lists the builds that were skipped and why, newest last.
func (l *Loader) Refused() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	paths := make([]string, 0, len(l.refused))
	for path := range l.refused {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	out := make([]error, 0, len(paths))
	for _, path := range paths {
		out = append(out, l.refused[path])
	}
	return out
}
