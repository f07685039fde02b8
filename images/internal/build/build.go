// Package build assembles an image from a spec on an empty base: one gzip layer per spec
// layer, OCI media types, and a config with a fixed creation time so identical inputs
// give an identical manifest digest.
package build

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/spider-backstage/spider/images/internal/layer"
	"github.com/spider-backstage/spider/images/internal/spec"
)

// Options tune a build.
type Options struct {
	// LayerCache, when set, is a directory of compressed layers named by the digest of
	// their uncompressed content: a layer whose files did not change is not compressed
	// again (the Node runtime layer of the agent takes most of a build otherwise).
	LayerCache string
}

// Image builds the image a spec describes.
func Image(s spec.Image) (v1.Image, error) { return ImageWith(s, Options{}) }

// ImageWith builds with options.
func ImageWith(s spec.Image, opts Options) (v1.Image, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(s.Layers))
	for i, l := range s.Layers {
		data, err := compressedLayer(l.Entries, opts.LayerCache)
		if err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
		lyr, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:     lyr,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: time.Unix(0, 0).UTC()}, CreatedBy: fmt.Sprintf("spider images: layer %d", i)},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = s.OS
	cf.Architecture = s.Arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = s.Config.Entrypoint
	cf.Config.Cmd = s.Config.Cmd
	cf.Config.Env = s.Config.Env
	cf.Config.User = s.Config.User
	cf.Config.WorkingDir = s.Config.WorkingDir
	cf.Config.Labels = s.Config.Labels
	if len(s.Config.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.Config.ExposedPorts {
			if !bytes.ContainsRune([]byte(p), '/') {
				p += "/tcp"
			}
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// compressedLayer returns the gzip of the entries' tar, from the cache when the same
// uncompressed content was compressed before.
func compressedLayer(entries []spec.Entry, cache string) ([]byte, error) {
	if cache == "" {
		var buf bytes.Buffer
		err := layer.WriteGzip(&buf, entries)
		return buf.Bytes(), err
	}
	var raw bytes.Buffer
	if err := layer.Write(&raw, entries); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw.Bytes())
	file := filepath.Join(cache, hex.EncodeToString(sum[:])+".tar.gz")
	if data, err := os.ReadFile(file); err == nil {
		now := time.Now()
		_ = os.Chtimes(file, now, now) // recently used: kept by pruning
		return data, nil
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(cache, ".layer-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(gz.Bytes()); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), os.Rename(tmp.Name(), file)
}
