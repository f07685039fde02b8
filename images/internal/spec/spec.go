// Package spec is the JSON description of an image to build: its name, its layers (files,
// directory trees, empty directories and symlinks with modes and owners) and its config.
// Validation happens here, before any file is read, so a bad spec fails with the field
// that is wrong.
package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"runtime"
	"strconv"
	"strings"

	"github.com/spider-backstage/spider/images/internal/imageref"
)

// MaxSpecBytes caps the spec file: it lists paths, never content.
const MaxSpecBytes = 1 << 20

// Image is one image to build.
type Image struct {
	Name string `json:"name"`
	OS   string `json:"os,omitempty"`
	// Arch defaults to the build machine's (GOARCH).
	Arch   string  `json:"architecture,omitempty"`
	Layers []Layer `json:"layers"`
	Config Config  `json:"config"`
}

// Layer is one filesystem layer, in order.
type Layer struct {
	Entries []Entry `json:"entries"`
}

// Entry is one thing placed in a layer. Exactly one of Src, Dir and Symlink is set.
type Entry struct {
	// Src is a host file or directory copied to Dest (directories recursively, keeping
	// their symlinks and permission bits).
	Src string `json:"src,omitempty"`
	// Dir makes an empty directory at Dest.
	Dir bool `json:"dir,omitempty"`
	// Symlink makes Dest a symlink to this target.
	Symlink string `json:"symlink,omitempty"`
	Dest    string `json:"dest"`
	// Mode (octal string, e.g. "0755" or "1777") overrides the permission bits of a
	// single file or directory; a copied tree keeps its own.
	Mode string `json:"mode,omitempty"`
	UID  int    `json:"uid,omitempty"`
	GID  int    `json:"gid,omitempty"`
}

// Config is the runtime config of the image.
type Config struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	User         string            `json:"user,omitempty"`
	WorkingDir   string            `json:"workdir,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
}

// Parse reads and validates a spec.
func Parse(r io.Reader) (Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSpecBytes+1))
	if err != nil {
		return Image{}, fmt.Errorf("reading spec: %w", err)
	}
	if len(data) > MaxSpecBytes {
		return Image{}, fmt.Errorf("spec is larger than %d bytes", MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var img Image
	if err := dec.Decode(&img); err != nil {
		return Image{}, fmt.Errorf("spec: %w", err)
	}
	if img.OS == "" {
		img.OS = "linux"
	}
	// The binaries in an image are built on this machine, for this machine.
	if img.Arch == "" {
		img.Arch = runtime.GOARCH
	}
	return img, img.Validate()
}

// Validate reports the first invalid field.
func (img Image) Validate() error {
	if _, err := imageref.Parse(img.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if img.Arch == "" {
		return fmt.Errorf("architecture: required (e.g. amd64)")
	}
	if len(img.Layers) == 0 {
		return fmt.Errorf("layers: at least one layer is required")
	}
	for i, l := range img.Layers {
		if len(l.Entries) == 0 {
			return fmt.Errorf("layers[%d]: no entries", i)
		}
		for j, e := range l.Entries {
			if err := e.validate(); err != nil {
				return fmt.Errorf("layers[%d].entries[%d]: %w", i, j, err)
			}
		}
	}
	return img.Config.validate()
}

func (e Entry) validate() error {
	kinds := 0
	if e.Src != "" {
		kinds++
	}
	if e.Dir {
		kinds++
	}
	if e.Symlink != "" {
		kinds++
	}
	if kinds != 1 {
		return fmt.Errorf("exactly one of src, dir and symlink must be set")
	}
	if _, err := CleanDest(e.Dest); err != nil {
		return err
	}
	if e.Mode != "" {
		if _, err := ParseMode(e.Mode); err != nil {
			return err
		}
		if e.Symlink != "" {
			return fmt.Errorf("mode: a symlink has no mode")
		}
	}
	if e.UID < 0 || e.GID < 0 {
		return fmt.Errorf("uid and gid must not be negative")
	}
	return nil
}

func (c Config) validate() error {
	if len(c.Entrypoint) == 0 && len(c.Cmd) == 0 {
		return fmt.Errorf("config: entrypoint or cmd is required")
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("config.env: %q is not NAME=value", kv)
		}
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		return fmt.Errorf("config.workdir: %q is not absolute", c.WorkingDir)
	}
	for _, p := range c.ExposedPorts {
		num, proto, _ := strings.Cut(p, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 || (proto != "" && proto != "tcp" && proto != "udp") {
			return fmt.Errorf("config.exposedPorts: %q is not PORT[/tcp|/udp]", p)
		}
	}
	return nil
}

// CleanDest turns an absolute image path into the relative form tar entries use
// ("/app/agent.cjs" → "app/agent.cjs"), refusing paths that escape the root.
func CleanDest(dest string) (string, error) {
	if !path.IsAbs(dest) {
		return "", fmt.Errorf("dest: %q is not absolute", dest)
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." {
			return "", fmt.Errorf("dest: %q contains ..", dest)
		}
	}
	clean := strings.TrimPrefix(path.Clean(dest), "/")
	if clean == "" {
		return "", fmt.Errorf("dest: %q is the root", dest)
	}
	return clean, nil
}

// ParseMode parses an octal permission string ("0755", "1777"); only permission,
// sticky, setuid and setgid bits.
func ParseMode(s string) (int64, error) {
	m, err := strconv.ParseInt(s, 8, 64)
	if err != nil || m < 0 || m > 07777 {
		return 0, fmt.Errorf("mode: %q is not an octal mode up to 7777", s)
	}
	return m, nil
}
