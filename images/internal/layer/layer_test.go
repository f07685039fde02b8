package layer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spider-backstage/spider/images/internal/spec"
)

type entry struct {
	typeflag byte
	mode     int64
	uid, gid int
	link     string
	body     string
}

func readTar(t *testing.T, data []byte) ([]string, map[string]entry) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var order []string
	got := map[string]entry{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return order, got
		}
		if err != nil {
			t.Fatal(err)
		}
		if !hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want the epoch", hdr.Name, hdr.ModTime)
		}
		body, _ := io.ReadAll(tr)
		order = append(order, hdr.Name)
		got[hdr.Name] = entry{hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Linkname, string(body)}
	}
}

func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o750))
	must(t, os.WriteFile(filepath.Join(dir, "tree", "a.txt"), []byte("a"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "tree", "sub", "run.sh"), []byte("#!"), 0o755))
	must(t, os.Symlink("a.txt", filepath.Join(dir, "tree", "link")))
	must(t, os.WriteFile(filepath.Join(dir, "bin"), []byte("ELF"), 0o600))
	return dir
}

func TestWriteLaysOutEntries(t *testing.T) {
	dir := fixture(t)
	var buf bytes.Buffer
	err := Write(&buf, []spec.Entry{
		{Src: filepath.Join(dir, "bin"), Dest: "/usr/bin/tool", Mode: "0755"},
		{Src: filepath.Join(dir, "tree"), Dest: "/app", UID: 65532, GID: 65532},
		{Dir: true, Dest: "/tmp", Mode: "1777"},
		{Symlink: "/usr/bin/tool", Dest: "/bin/tool"},
	})
	if err != nil {
		t.Fatal(err)
	}
	order, got := readTar(t, buf.Bytes())
	want := map[string]entry{
		"app/":           {tar.TypeDir, 0o750, 65532, 65532, "", ""},
		"app/a.txt":      {tar.TypeReg, 0o640, 65532, 65532, "", "a"},
		"app/link":       {tar.TypeSymlink, 0o777, 65532, 65532, "a.txt", ""},
		"app/sub/":       {tar.TypeDir, 0o750, 65532, 65532, "", ""},
		"app/sub/run.sh": {tar.TypeReg, 0o755, 65532, 65532, "", "#!"},
		"bin/":           {tar.TypeDir, 0o755, 0, 0, "", ""},
		"bin/tool":       {tar.TypeSymlink, 0o777, 0, 0, "/usr/bin/tool", ""},
		"tmp/":           {tar.TypeDir, 0o1777, 0, 0, "", ""},
		"usr/":           {tar.TypeDir, 0o755, 0, 0, "", ""},
		"usr/bin/":       {tar.TypeDir, 0o755, 0, 0, "", ""},
		"usr/bin/tool":   {tar.TypeReg, 0o755, 0, 0, "", "ELF"},
	}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %d", order, len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %+v, want %+v", name, got[name], w)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Fatalf("not sorted: %v", order)
		}
	}
}

func TestWriteIsReproducible(t *testing.T) {
	dir := fixture(t)
	entries := []spec.Entry{{Src: filepath.Join(dir, "tree"), Dest: "/app"}}
	var a, b bytes.Buffer
	must(t, WriteGzip(&a, entries))
	// A later mtime on the host must not change the layer.
	must(t, os.Chtimes(filepath.Join(dir, "tree", "a.txt"), epoch.AddDate(30, 0, 0), epoch.AddDate(30, 0, 0)))
	must(t, WriteGzip(&b, entries))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same inputs gave different layers")
	}
}

func TestWriteRejectsConflicts(t *testing.T) {
	dir := fixture(t)
	bin := filepath.Join(dir, "bin")
	cases := map[string][]spec.Entry{
		"twice":            {{Src: bin, Dest: "/x"}, {Src: bin, Dest: "/x"}},
		"file then child":  {{Src: bin, Dest: "/x"}, {Src: bin, Dest: "/x/y"}},
		"child then file":  {{Src: bin, Dest: "/x/y"}, {Src: bin, Dest: "/x"}},
		"missing src":      {{Src: filepath.Join(dir, "nope"), Dest: "/x"}},
		"symlink as a dir": {{Symlink: "/a", Dest: "/x"}, {Dir: true, Dest: "/x/y"}},
	}
	for name, entries := range cases {
		if err := Write(io.Discard, entries); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Naming a directory twice is fine (the later mode wins).
	var buf bytes.Buffer
	must(t, Write(&buf, []spec.Entry{{Dir: true, Dest: "/d"}, {Dir: true, Dest: "/d", Mode: "0700"}}))
	if _, got := readTar(t, buf.Bytes()); got["d/"].mode != 0o700 {
		t.Fatalf("got %+v", got["d/"])
	}
}

func TestWriteRejectsSpecialFiles(t *testing.T) {
	err := Write(io.Discard, []spec.Entry{{Src: "/dev/null", Dest: "/null"}})
	if err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("got %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
