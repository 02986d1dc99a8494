package procplugin

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RemoteMarker is the file airlock writes into a plugin directory it installed from a
// signed channel (plugins.release in airlock.yaml): such a plugin always runs sandboxed.
const RemoteMarker = ".airlock-release.json"

// Manifest is a process plugin directory's plugin.json: the binary to run (Main, relative
// to the directory) and what it may do.
type Manifest struct {
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	Main        string       `json:"main"`
	Permissions *Permissions `json:"permissions"`
}

// Permissions are plugin.json's grants (docs/plugins.md). A Go process plugin's sandbox
// enforces the file grants; network grants and resource limits are the Node host's, and a
// manifest that asks for them is refused rather than run with less than it says.
type Permissions struct {
	FS             []string        `json:"fs"`
	Net            json.RawMessage `json:"net"`
	Child          bool            `json:"child"`
	MemoryMB       *int            `json:"memoryMB"`
	CPUMsPerSecond *int            `json:"cpuMsPerSecond"`
}

// StartDir starts the plugin in dir as Start does, reading its plugin.json. A plugin airlock
// installed from a channel (RemoteMarker is there), or one whose manifest has permissions,
// runs in Sandbox with only its file grants (relative paths from the working directory);
// nothing at all by default. Other plugins run as plain child processes.
//
//	client, err := procplugin.StartDir("plugins/enrich", 10*time.Second)
func StartDir(dir string, timeout time.Duration) (*Client, error) {
	file := filepath.Join(dir, "plugin.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var manifest Manifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if manifest.Main == "" || filepath.IsAbs(manifest.Main) || strings.HasPrefix(filepath.Clean(manifest.Main), "..") {
		return nil, fmt.Errorf(`%s: "main" must name the plugin's binary inside its directory, got %q`, file, manifest.Main)
	}
	cmd := exec.Command(filepath.Join(dir, manifest.Main))
	_, statErr := os.Stat(filepath.Join(dir, RemoteMarker))
	if manifest.Permissions == nil && statErr != nil {
		return Start(cmd, timeout)
	}
	grants, err := grantsOf(file, manifest.Permissions)
	if err != nil {
		return nil, err
	}
	// Its own directory is readable, as for a Node plugin.
	grants.Read = append(grants.Read, dir)
	sandboxed, cleanup, err := Sandbox(cmd, grants)
	if err != nil {
		return nil, fmt.Errorf("%s: refused, never run unconfined: %w", file, err)
	}
	client, err := Start(sandboxed, timeout)
	if err != nil {
		cleanup()
		return nil, err
	}
	go func() {
		<-client.Exited()
		cleanup()
	}()
	return client, nil
}

func grantsOf(file string, p *Permissions) (Grants, error) {
	var grants Grants
	if p == nil {
		return grants, nil
	}
	if len(p.Net) > 0 && string(p.Net) != "false" && string(p.Net) != "[]" {
		return grants, fmt.Errorf(`%s: "permissions.net" grants are carried by the Node host only; a Go process plugin has no network`, file)
	}
	if p.MemoryMB != nil || p.CPUMsPerSecond != nil {
		return grants, fmt.Errorf(`%s: "permissions.memoryMB" and "cpuMsPerSecond" are enforced by the Node host only; refused rather than run without them`, file)
	}
	for _, entry := range p.FS {
		how, path, ok := strings.Cut(entry, ":")
		if !ok || path == "" || (how != "read" && how != "write") {
			return grants, fmt.Errorf(`%s: "permissions.fs" entry %q: expected "read:PATH" or "write:PATH"`, file, entry)
		}
		if how == "read" {
			grants.Read = append(grants.Read, path)
		} else {
			grants.Write = append(grants.Write, path)
		}
	}
	return grants, nil
}
