// Package publish pushes an image archive to a registry under a prefix, keeping the
// image's repository path and tag: spider/whisperer:0.1.0 to PREFIX/spider/whisperer:0.1.0.
package publish

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/spider-backstage/spider/images/internal/archive"
	"github.com/spider-backstage/spider/images/internal/imageref"
)

// Result is what was pushed.
type Result struct {
	Ref    string
	Digest string
}

// Push writes the archive's image to prefix; insecure allows plain HTTP.
func Push(file, prefix string, insecure bool, opts ...remote.Option) (Result, error) {
	a, err := archive.Open(file)
	if err != nil {
		return Result{}, err
	}
	defer a.Close()
	src, err := imageref.Parse(a.Name)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", file, err)
	}
	dst, err := src.InRegistry(prefix)
	if err != nil {
		return Result{}, err
	}
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(dst.Full, nameOpts...)
	if err != nil {
		return Result{}, err
	}
	if err := remote.Write(ref, a.Image, opts...); err != nil {
		return Result{}, fmt.Errorf("pushing %s: %w", dst.Full, err)
	}
	digest, err := a.Image.Digest()
	if err != nil {
		return Result{}, err
	}
	return Result{Ref: dst.Full, Digest: digest.String()}, nil
}
