// Package build assembles an image from a spec on an empty base: one gzip layer per spec
// layer, OCI media types, and a config with a fixed creation time so identical inputs
// give an identical manifest digest.
package build

import (
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/spider-backstage/spider/images/internal/layer"
	"github.com/spider-backstage/spider/images/internal/spec"
)

// Image builds the image a spec describes.
func Image(s spec.Image) (v1.Image, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(s.Layers))
	for i, l := range s.Layers {
		var buf bytes.Buffer
		if err := layer.WriteGzip(&buf, l.Entries); err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
		data := buf.Bytes()
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
