package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spider-backstage/spider/images/internal/spec"
)

func specWith(t *testing.T, dir, content string) spec.Image {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return spec.Image{Name: "spider/x:1", OS: "linux", Arch: "amd64",
		Layers: []spec.Layer{
			{Entries: []spec.Entry{{Dir: true, Dest: "/tmp", Mode: "1777"}}},
			{Entries: []spec.Entry{{Src: filepath.Join(dir, "app"), Dest: "/app"}}},
		},
		Config: spec.Config{Entrypoint: []string{"/app"}}}
}

// The layer cache gives the same image as no cache, reuses unchanged layers and never
// serves a layer whose content changed.
func TestLayerCache(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	plain, err := Image(specWith(t, dir, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	cached, err := ImageWith(specWith(t, dir, "v1"), Options{LayerCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := plain.Digest()
	d2, _ := cached.Digest()
	if d1 != d2 {
		t.Fatalf("cache changed the image: %s vs %s", d1, d2)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*.tar.gz"))
	if len(files) != 2 {
		t.Fatalf("%d cached layers, want 2", len(files))
	}
	again, err := ImageWith(specWith(t, dir, "v2"), Options{LayerCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	d3, _ := again.Digest()
	files, _ = filepath.Glob(filepath.Join(cache, "*.tar.gz"))
	if d3 == d1 || len(files) != 3 {
		t.Fatalf("changed content: digest %s (was %s), %d cached layers, want 3", d3, d1, len(files))
	}
	fresh, _ := Image(specWith(t, dir, "v2"))
	d4, _ := fresh.Digest()
	if d3 != d4 {
		t.Fatalf("cached build %s differs from a fresh one %s", d3, d4)
	}
}
