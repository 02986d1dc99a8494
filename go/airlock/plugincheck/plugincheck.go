// Package plugincheck predicts whether plugin.Open would accept a Go plugin in a given
// host binary, without opening it: a failed plugin.Open poisons the process (the runtime
// marks the module bad, and Go cannot unload it), so a mismatch must never reach it.
//
// The runtime compares, for every package the plugin shares with the host, the hash the
// plugin was linked against with the host's own (runtime.plugin_lastmoduleinit: "plugin
// was built with a different version of package X"). Both sides keep those hashes as
// ELF dynamic symbols go.link.pkghashbytes.<package>; Go 1.19's `go version -m` cannot
// read a plugin, so they are read here with debug/elf.
package plugincheck

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
)

const hashPrefix = "go.link.pkghashbytes."

// Mismatch says which shared package differs between a plugin and its host.
type Mismatch struct {
	Package    string
	PluginHash string
	HostHash   string
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("plugin was built with a different version of package %s (plugin %s, host %s): rebuild the plugin with the same Go, flags and dependencies as the host", m.Package, m.PluginHash, m.HostHash)
}

// Hashes reads the package hashes an ELF file (a plugin, or a host that imports "plugin")
// carries, by package path.
func Hashes(path string) (map[string][]byte, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF file Go can read: %w", path, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("%s has no dynamic symbols (a host must import \"plugin\"; a plugin must be built with -buildmode=plugin): %w", path, err)
	}
	hashes := map[string][]byte{}
	for _, sym := range syms {
		if !strings.HasPrefix(sym.Name, hashPrefix) || int(sym.Section) >= len(f.Sections) || sym.Section == elf.SHN_UNDEF {
			continue
		}
		section := f.Sections[sym.Section]
		data := make([]byte, sym.Size)
		if _, err := section.ReadAt(data, int64(sym.Value-section.Addr)); err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", path, sym.Name, err)
		}
		hashes[strings.TrimPrefix(sym.Name, hashPrefix)] = data
	}
	return hashes, nil
}

// Check predicts plugin.Open(pluginPath) inside the program at hostPath: nil when the
// runtime would accept it, a *Mismatch (or a read error) when it would refuse it.
//
//	if err := plugincheck.Check("/proc/self/exe", "plugins/greet.3.so"); err != nil {
//		log.Printf("not opening greet.3.so: %v", err) // the running build stays
//	}
func Check(hostPath, pluginPath string) error {
	host, err := Hashes(hostPath)
	if err != nil {
		return err
	}
	if len(host) == 0 {
		return fmt.Errorf("%s carries no package hashes: a host must import \"plugin\" to open plugins", hostPath)
	}
	plugin, err := Hashes(pluginPath)
	if err != nil {
		return err
	}
	if len(plugin) == 0 {
		return fmt.Errorf("%s carries no package hashes: build it with go build -buildmode=plugin", pluginPath)
	}
	packages := make([]string, 0, len(plugin))
	for pkg := range plugin {
		packages = append(packages, pkg)
	}
	// runtime first: a different Go version shows there, and says the most.
	sort.Slice(packages, func(i, j int) bool {
		if (packages[i] == "runtime") != (packages[j] == "runtime") {
			return packages[i] == "runtime"
		}
		return packages[i] < packages[j]
	})
	for _, pkg := range packages {
		hostHash, shared := host[pkg]
		if shared && !bytes.Equal(hostHash, plugin[pkg]) {
			return &Mismatch{Package: pkg, PluginHash: hex.EncodeToString(plugin[pkg]), HostHash: hex.EncodeToString(hostHash)}
		}
	}
	return nil
}

// PluginPath is the plugin path a plugin was linked with (the runtime refuses a second
// plugin with a path it has loaded: "plugin already loaded"); for a main package it is the
// package's import path, whatever the file is called.
func PluginPath(pluginPath string) (string, error) {
	f, err := elf.Open(pluginPath)
	if err != nil {
		return "", fmt.Errorf("%s: not an ELF file Go can read: %w", pluginPath, err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return "", fmt.Errorf("%s: no symbol table (stripped?): %w", pluginPath, err)
	}
	for _, sym := range syms {
		if sym.Name != "go.link.thispluginpath" || int(sym.Section) >= len(f.Sections) || sym.Section == elf.SHN_UNDEF {
			continue
		}
		section := f.Sections[sym.Section]
		data := make([]byte, sym.Size)
		if _, err := section.ReadAt(data, int64(sym.Value-section.Addr)); err != nil {
			return "", fmt.Errorf("%s: reading its plugin path: %w", pluginPath, err)
		}
		return string(data), nil
	}
	return "", fmt.Errorf("%s has no plugin path: build it with go build -buildmode=plugin", pluginPath)
}

// Self predicts plugin.Open(pluginPath) in the running program.
func Self(pluginPath string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return Check(exe, pluginPath)
}
