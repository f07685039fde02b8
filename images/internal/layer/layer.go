// Package layer writes one image layer from spec entries as a reproducible tar: entries
// sorted by path (so parents come first), parent directories made implicitly, every
// timestamp fixed and owners set from the spec, never from the host. The same inputs
// always give the same bytes, so the same digest.
package layer

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/spider-backstage/spider/images/internal/spec"
)

// epoch is every entry's timestamp: file times from the host would change the digest on
// each checkout.
var epoch = time.Unix(0, 0).UTC()

type node struct {
	typeflag byte
	mode     int64
	uid, gid int
	src      string // regular files: the host file to copy
	target   string // symlinks
	size     int64
	explicit bool
}

// WriteGzip writes the entries as a gzip-compressed tar.
func WriteGzip(w io.Writer, entries []spec.Entry) error {
	zw := gzip.NewWriter(w)
	if err := Write(zw, entries); err != nil {
		return err
	}
	return zw.Close()
}

// Write writes the entries as an uncompressed tar.
func Write(w io.Writer, entries []spec.Entry) error {
	nodes := map[string]*node{}
	for _, e := range entries {
		if err := collect(nodes, e); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(nodes))
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, name := range names {
		if err := emit(tw, name, nodes[name]); err != nil {
			return err
		}
	}
	return tw.Close()
}

func collect(nodes map[string]*node, e spec.Entry) error {
	dest, err := spec.CleanDest(e.Dest)
	if err != nil {
		return err
	}
	var mode int64 = -1
	if e.Mode != "" {
		if mode, err = spec.ParseMode(e.Mode); err != nil {
			return err
		}
	}
	switch {
	case e.Dir:
		return put(nodes, dest, &node{typeflag: tar.TypeDir, mode: orDefault(mode, 0o755), uid: e.UID, gid: e.GID})
	case e.Symlink != "":
		return put(nodes, dest, &node{typeflag: tar.TypeSymlink, mode: 0o777, uid: e.UID, gid: e.GID, target: e.Symlink})
	}
	info, err := os.Lstat(e.Src)
	if err != nil {
		return fmt.Errorf("src: %w", err)
	}
	if !info.IsDir() {
		n, err := hostNode(e.Src, info, e)
		if err != nil {
			return err
		}
		if mode >= 0 {
			n.mode = mode
		}
		return put(nodes, dest, n)
	}
	return filepath.WalkDir(e.Src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(e.Src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n, err := hostNode(p, info, e)
		if err != nil {
			return err
		}
		if rel == "." && mode >= 0 {
			n.mode = mode
		}
		return put(nodes, path.Join(dest, filepath.ToSlash(rel)), n)
	})
}

func hostNode(p string, info fs.FileInfo, e spec.Entry) (*node, error) {
	perm := int64(info.Mode().Perm())
	if info.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if info.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if info.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	n := &node{mode: perm, uid: e.UID, gid: e.GID}
	switch {
	case info.Mode().IsRegular():
		n.typeflag, n.src, n.size = tar.TypeReg, p, info.Size()
	case info.IsDir():
		n.typeflag = tar.TypeDir
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		n.typeflag, n.target, n.mode = tar.TypeSymlink, target, 0o777
	default:
		return nil, fmt.Errorf("src: %s is neither a file, a directory nor a symlink", p)
	}
	return n, nil
}

// put records a node and its missing parents. Two explicit entries for one path are an
// error (the spec would be ambiguous), except a directory named again as a directory.
func put(nodes map[string]*node, name string, n *node) error {
	n.explicit = true
	if old, ok := nodes[name]; ok && old.explicit {
		if !(old.typeflag == tar.TypeDir && n.typeflag == tar.TypeDir) {
			return fmt.Errorf("dest: /%s is given twice", name)
		}
	} else if ok && n.typeflag != tar.TypeDir {
		return fmt.Errorf("dest: /%s is a parent directory of another entry", name)
	}
	nodes[name] = n
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		existing, ok := nodes[dir]
		if !ok {
			nodes[dir] = &node{typeflag: tar.TypeDir, mode: 0o755}
			continue
		}
		if existing.typeflag != tar.TypeDir {
			return fmt.Errorf("dest: /%s is not a directory but /%s is inside it", dir, name)
		}
	}
	return nil
}

func emit(tw *tar.Writer, name string, n *node) error {
	hdr := &tar.Header{
		Typeflag: n.typeflag,
		Name:     name,
		Mode:     n.mode,
		Uid:      n.uid,
		Gid:      n.gid,
		ModTime:  epoch,
		Linkname: n.target,
	}
	if n.typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if n.typeflag != tar.TypeReg {
		return tw.WriteHeader(hdr)
	}
	f, err := os.Open(n.src)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr.Size = n.size
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// Copy exactly the size recorded at collection time; a file that changed since is an
	// error rather than a corrupt layer.
	if _, err := io.CopyN(tw, f, n.size); err != nil {
		return fmt.Errorf("copying %s: %w", n.src, err)
	}
	return nil
}

func orDefault(mode, def int64) int64 {
	if mode < 0 {
		return def
	}
	return mode
}
