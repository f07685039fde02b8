package spec

import (
	"runtime"
	"strings"
	"testing"
)

const valid = `{"name":"spider/pause:3.10","architecture":"amd64",
 "layers":[{"entries":[{"src":"/bin/true","dest":"/pause","mode":"0755"},{"dir":true,"dest":"/tmp","mode":"1777"},{"symlink":"/pause","dest":"/bin/pause"}]}],
 "config":{"entrypoint":["/pause"],"env":["A=b=c"],"user":"65532:65532","workdir":"/","exposedPorts":["8080/tcp","53/udp","9"]}}`

func TestParseValid(t *testing.T) {
	img, err := Parse(strings.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	if img.OS != "linux" || len(img.Layers[0].Entries) != 3 || img.Config.User != "65532:65532" {
		t.Fatalf("unexpected: %+v", img)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]struct{ from, to, want string }{
		"bad name":      {`"spider/pause:3.10"`, `"spider/pause"`, "name:"},
		"unknown field": {`"config":{`, `"config":{"shell":1,`, "unknown field"},
		"two kinds":     {`{"dir":true,"dest":"/tmp"`, `{"dir":true,"src":"/x","dest":"/tmp"`, "exactly one"},
		"relative dest": {`"dest":"/pause"`, `"dest":"pause"`, "not absolute"},
		"escaping dest": {`"dest":"/pause"`, `"dest":"/a/../../pause"`, "contains .."},
		"root dest":     {`"dest":"/pause"`, `"dest":"/"`, "the root"},
		"bad mode":      {`"mode":"0755"`, `"mode":"0855"`, "octal"},
		"symlink mode":  {`"dest":"/bin/pause"`, `"dest":"/bin/pause","mode":"0777"`, "symlink has no mode"},
		"negative uid":  {`"mode":"1777"`, `"mode":"1777","uid":-1`, "negative"},
		"no entrypoint": {`"entrypoint":["/pause"],`, ``, "entrypoint or cmd"},
		"bad env":       {`"A=b=c"`, `"=b"`, "NAME=value"},
		"relative wd":   {`"workdir":"/"`, `"workdir":"app"`, "workdir"},
		"bad port":      {`"53/udp"`, `"53/sctp"`, "exposedPorts"},
		"no layers":     {`"layers":[{"entries":[`, `"layers":[],"x":[{"entries":[`, "unknown field"},
	}
	for name, c := range cases {
		doc := strings.Replace(valid, c.from, c.to, 1)
		if doc == valid {
			t.Fatalf("%s: replacement did not apply", name)
		}
		_, err := Parse(strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, c.want)
		}
	}
}

func TestParseDefaultsArchitecture(t *testing.T) {
	img, err := Parse(strings.NewReader(strings.Replace(valid, `"architecture":"amd64",`, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if img.Arch != runtime.GOARCH {
		t.Fatalf("architecture %q, want %q", img.Arch, runtime.GOARCH)
	}
}

func TestParseRejectsEmptyLayers(t *testing.T) {
	_, err := Parse(strings.NewReader(`{"name":"a/b:1","architecture":"amd64","layers":[],"config":{"cmd":["x"]}}`))
	if err == nil || !strings.Contains(err.Error(), "at least one layer") {
		t.Fatalf("got %v", err)
	}
}

func TestParseCapsSize(t *testing.T) {
	_, err := Parse(strings.NewReader(strings.Repeat(" ", MaxSpecBytes+1)))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}
