// Package archive writes and reads an image as an OCI image-layout tarball, the format
// `ctr images import` takes. The index entry carries the normalised name in
// containerd's own annotation (io.containerd.image.name), which ctr stores verbatim, and
// the tag in the OCI ref-name annotation, the way containerd's own exporter writes it.
package archive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/spider-backstage/spider/images/internal/imageref"
)

const (
	// AnnotationImageName is containerd's annotation for the full image name.
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName is the OCI annotation for the reference (the tag).
	AnnotationRefName = "org.opencontainers.image.ref.name"
	layoutFile        = `{"imageLayoutVersion":"1.0.0"}`
	// maxArchiveEntry caps one blob read back from an archive.
	maxArchiveEntry = 4 << 30
)

// Write writes img as an OCI layout tar named name.
func Write(w io.Writer, img v1.Image, name imageref.Name) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mediaType,
			Digest:    digest,
			Size:      int64(len(manifest)),
			Annotations: map[string]string{
				AnnotationImageName: name.Full,
				AnnotationRefName:   name.Tag,
			},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := writeDir(tw, "blobs/"); err != nil {
		return err
	}
	if err := writeDir(tw, "blobs/sha256/"); err != nil {
		return err
	}
	if err := writeBytes(tw, "oci-layout", []byte(layoutFile)); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return err
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = writeReader(tw, blobPath(h), size, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := writeBytes(tw, blobPath(configName), config); err != nil {
		return err
	}
	if err := writeBytes(tw, blobPath(digest), manifest); err != nil {
		return err
	}
	if err := writeBytes(tw, "index.json", indexJSON); err != nil {
		return err
	}
	return tw.Close()
}

// WriteFile writes the archive to path atomically (a temp file renamed into place), so an
// interrupted build never leaves a truncated archive in the cache.
func WriteFile(file string, img v1.Image, name imageref.Name) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-"+filepath.Base(file))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, img, name); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// Image is an image read back from an archive.
type Image struct {
	Image v1.Image
	// Name is the full name recorded in the index.
	Name string
	// cleanup removes the extracted layout.
	cleanup func()
}

// Close removes the extracted copy.
func (i *Image) Close() { i.cleanup() }

// Open extracts an archive into a temporary layout and returns its one image.
func Open(file string) (*Image, error) {
	dir, err := os.MkdirTemp("", "spider-oci-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := extract(file, dir); err != nil {
		cleanup()
		return nil, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		cleanup()
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		cleanup()
		return nil, err
	}
	if len(im.Manifests) != 1 {
		cleanup()
		return nil, fmt.Errorf("%s: expected one image in index.json, found %d", file, len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		cleanup()
		return nil, err
	}
	return &Image{Image: img, Name: im.Manifests[0].Annotations[AnnotationImageName], cleanup: cleanup}, nil
}

func extract(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		name := path.Clean(hdr.Name)
		if strings.HasPrefix(name, "..") || path.IsAbs(name) {
			return fmt.Errorf("%s: entry %q escapes the archive", file, hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if hdr.Size > maxArchiveEntry {
				return fmt.Errorf("%s: entry %q is larger than %d bytes", file, hdr.Name, maxArchiveEntry)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry %q has unexpected type %q", file, hdr.Name, hdr.Typeflag)
		}
	}
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func writeDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(0, 0)})
}

func writeBytes(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func writeReader(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}
