// Command ociimage builds container images without a daemon or a registry: a JSON spec
// (see internal/spec) becomes an OCI layout tarball that `ctr -n k8s.io images import`
// takes, named so containerd's CRI finds it under the short name a pod spec uses. It also
// pushes such an archive to a registry.
//
//	ociimage build -spec image.json -out image.tar [-layer-cache DIR]
//	ociimage push -archive image.tar -registry HOST[:PORT][/PATH] [-insecure]
//	ociimage name spider/pause:3.10      # the normalised name containerd stores
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spider-backstage/spider/images/internal/archive"
	"github.com/spider-backstage/spider/images/internal/build"
	"github.com/spider-backstage/spider/images/internal/imageref"
	"github.com/spider-backstage/spider/images/internal/publish"
	"github.com/spider-backstage/spider/images/internal/spec"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "push":
		err = runPush(os.Args[2:])
	case "name":
		err = runName(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ociimage build -spec FILE -out FILE | push -archive FILE -registry PREFIX [-insecure] | name REF")
	os.Exit(2)
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	specFile := fs.String("spec", "", "JSON image spec")
	out := fs.String("out", "", "OCI archive to write")
	layerCache := fs.String("layer-cache", "", "directory of compressed layers by content digest (optional)")
	_ = fs.Parse(args)
	if *specFile == "" || *out == "" {
		return fmt.Errorf("build: -spec and -out are required")
	}
	f, err := os.Open(*specFile)
	if err != nil {
		return err
	}
	s, err := spec.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *specFile, err)
	}
	ref, _ := imageref.Parse(s.Name) // validated by spec.Parse
	img, err := build.ImageWith(s, build.Options{LayerCache: *layerCache})
	if err != nil {
		return err
	}
	if err := archive.WriteFile(*out, img, ref); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", ref.Full, digest, *out)
	return nil
}

func runPush(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	file := fs.String("archive", "", "OCI archive written by build")
	registry := fs.String("registry", "", "registry prefix: HOST[:PORT][/PATH]; the image keeps its path and tag below it")
	insecure := fs.Bool("insecure", false, "allow plain HTTP (a local registry)")
	_ = fs.Parse(args)
	if *file == "" || *registry == "" {
		return fmt.Errorf("push: -archive and -registry are required")
	}
	res, err := publish.Push(*file, *registry, *insecure)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", res.Ref, res.Digest)
	return nil
}

func runName(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("name: one image reference expected")
	}
	n, err := imageref.Parse(args[0])
	if err != nil {
		return err
	}
	fmt.Println(n.Full)
	return nil
}
