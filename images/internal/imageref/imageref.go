// Package imageref turns the short image names pod specs use (spider/pause:3.10) into
// the fully qualified names containerd stores. Kubelet asks the CRI for the short name
// and containerd's CRI plugin normalises it with the same distribution library before
// looking it up, so an image imported under the normalised name is found; imported
// under the short name it is not (ctr stores names verbatim).
package imageref

import (
	"fmt"

	"github.com/distribution/reference"
)

// Name is a parsed, tagged image reference.
type Name struct {
	// Short is the name as given (what pod specs say).
	Short string
	// Full is the normalised name (registry host, repository path, tag).
	Full string
	// Repository is Full without the tag.
	Repository string
	// Path is the repository path without the registry host (spider/pause).
	Path string
	// Tag is the tag.
	Tag string
}

// Parse normalises a tagged reference. Digests are refused: images built here are named
// by tag, and the digest is only known after the build.
func Parse(s string) (Name, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Name{}, fmt.Errorf("image name %q: %w", s, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return Name{}, fmt.Errorf("image name %q: a digest is not allowed, name the image by tag", s)
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return Name{}, fmt.Errorf("image name %q: a tag is required (name:tag)", s)
	}
	return Name{
		Short:      s,
		Full:       named.String(),
		Repository: named.Name(),
		Path:       reference.Path(named),
		Tag:        tagged.Tag(),
	}, nil
}

// InRegistry is the name of the same repository and tag under another registry prefix,
// e.g. "localhost:5000" or "registry.example/team" → localhost:5000/spider/pause:3.10.
func (n Name) InRegistry(prefix string) (Name, error) {
	if prefix == "" {
		return Name{}, fmt.Errorf("registry prefix is empty")
	}
	return Parse(prefix + "/" + n.Path + ":" + n.Tag)
}
