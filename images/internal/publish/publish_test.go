package publish

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/spider-backstage/spider/images/internal/archive"
	"github.com/spider-backstage/spider/images/internal/build"
	"github.com/spider-backstage/spider/images/internal/imageref"
	"github.com/spider-backstage/spider/images/internal/spec"
)

// An archive pushed to a registry (go-containerregistry's registry implementation over
// HTTP) is pulled back with the same digest, config and layers.
func TestPushToARegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	prefix := strings.TrimPrefix(srv.URL, "http://") + "/team"

	dir := t.TempDir()
	bin := filepath.Join(dir, "payments")
	if err := os.WriteFile(bin, []byte("demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := spec.Image{Name: "spider/demo-payments:0.1.0", OS: "linux", Arch: "amd64",
		Layers: []spec.Layer{{Entries: []spec.Entry{{Src: bin, Dest: "/payments"}}}},
		Config: spec.Config{Entrypoint: []string{"/payments"}, User: "65532:65532"}}
	img, err := build.Image(s)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := imageref.Parse(s.Name)
	file := filepath.Join(dir, "payments.tar")
	if err := archive.WriteFile(file, img, n); err != nil {
		t.Fatal(err)
	}

	res, err := Push(file, prefix, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != prefix+"/spider/demo-payments:0.1.0" {
		t.Fatalf("pushed to %q", res.Ref)
	}
	want, _ := img.Digest()
	if res.Digest != want.String() {
		t.Fatalf("digest %s, want %s", res.Digest, want)
	}
	ref, _ := name.ParseReference(res.Ref, name.Insecure)
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := pulled.Digest()
	cf, _ := pulled.ConfigFile()
	layers, _ := pulled.Layers()
	if got != want || cf.Config.User != "65532:65532" || len(layers) != 1 {
		t.Fatalf("pulled %s user %q layers %d", got, cf.Config.User, len(layers))
	}
}
