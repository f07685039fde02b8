package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/spider-backstage/spider/images/internal/build"
	"github.com/spider-backstage/spider/images/internal/imageref"
	"github.com/spider-backstage/spider/images/internal/spec"
)

func testImage(t *testing.T) (spec.Image, v1.Image) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := spec.Image{
		Name: "spider/controller-agent:0.1.0", OS: "linux", Arch: "amd64",
		Layers: []spec.Layer{
			{Entries: []spec.Entry{{Src: bin, Dest: "/app/agent"}}},
			{Entries: []spec.Entry{{Dir: true, Dest: "/tmp", Mode: "1777"}}},
		},
		Config: spec.Config{
			Entrypoint: []string{"/app/agent"}, Cmd: []string{"--help"}, Env: []string{"NODE_ENV=production"},
			User: "65532:65532", WorkingDir: "/app", Labels: map[string]string{"org.opencontainers.image.title": "agent"},
			ExposedPorts: []string{"8080", "5353/udp"},
		},
	}
	img, err := build.Image(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, img
}

func TestWriteProducesAnOCILayout(t *testing.T) {
	_, img := testImage(t)
	name, _ := imageref.Parse("spider/controller-agent:0.1.0")
	var buf bytes.Buffer
	if err := Write(&buf, img, name); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if hdr.Typeflag == tar.TypeReg {
			files[hdr.Name] = data
		}
	}
	if string(files["oci-layout"]) != layoutFile {
		t.Fatalf("oci-layout: %q", files["oci-layout"])
	}
	// Every blob is stored under its own digest.
	for p, data := range files {
		if filepath.Dir(p) != "blobs/sha256" {
			continue
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != filepath.Base(p) {
			t.Errorf("%s: content digest differs", p)
		}
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if index.MediaType != types.OCIImageIndex || len(index.Manifests) != 1 {
		t.Fatalf("index: %+v", index)
	}
	desc := index.Manifests[0]
	if desc.Annotations[AnnotationImageName] != name.Full || desc.Annotations[AnnotationRefName] != "0.1.0" {
		t.Fatalf("annotations: %v", desc.Annotations)
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(files["blobs/sha256/"+desc.Digest.Hex], &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != types.OCIManifestSchema1 || manifest.Config.MediaType != types.OCIConfigJSON || len(manifest.Layers) != 2 {
		t.Fatalf("manifest: %+v", manifest)
	}
	for _, l := range manifest.Layers {
		if l.MediaType != types.OCILayer || files["blobs/sha256/"+l.Digest.Hex] == nil {
			t.Fatalf("layer %+v missing or of wrong type", l)
		}
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(files["blobs/sha256/"+manifest.Config.Digest.Hex], &cf); err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != "amd64" || c.User != "65532:65532" || c.WorkingDir != "/app" ||
		c.Entrypoint[0] != "/app/agent" || c.Cmd[0] != "--help" || c.Env[0] != "NODE_ENV=production" ||
		c.Labels["org.opencontainers.image.title"] != "agent" || len(cf.RootFS.DiffIDs) != 2 {
		t.Fatalf("config: %+v", cf)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Fatalf("ports: %v", c.ExposedPorts)
	}
	if _, ok := c.ExposedPorts["5353/udp"]; !ok {
		t.Fatalf("ports: %v", c.ExposedPorts)
	}
}

func TestBuildIsReproducibleAndRoundTrips(t *testing.T) {
	s, img := testImage(t)
	again, err := build.Image(s)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("digests differ: %s %s", d1, d2)
	}
	name, _ := imageref.Parse(s.Name)
	file := filepath.Join(t.TempDir(), "agent.tar")
	if err := WriteFile(file, img, name); err != nil {
		t.Fatal(err)
	}
	a, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d3, _ := a.Image.Digest()
	if d3 != d1 || a.Name != name.Full {
		t.Fatalf("read back %s %s, want %s %s", a.Name, d3, name.Full, d1)
	}
	layers, _ := a.Image.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	if len(names) != 2 || names[0] != "app/" || names[1] != "app/agent" {
		t.Fatalf("layer 0: %v", names)
	}
}

func TestOpenRejectsEscapingEntries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.tar")
	f, _ := os.Create(file)
	tw := tar.NewWriter(f)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "../evil", Size: 1, Mode: 0o644})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	f.Close()
	if _, err := Open(file); err == nil {
		t.Fatal("accepted an entry outside the archive")
	}
}
