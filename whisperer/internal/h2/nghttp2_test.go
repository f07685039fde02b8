package h2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// TestNghttp2Interop follows nghttp2's own client, h2load and nghttpd (another HPACK
// encoder, padding, PRIORITY frames on idle streams, many concurrent streams) through a
// recording proxy. Skipped where the nghttp2 tools are not installed.
func TestNghttp2Interop(t *testing.T) {
	for _, tool := range []string{"nghttpd", "nghttp", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: nghttp2-client, nghttp2-server)", tool)
		}
	}
	dir := t.TempDir()
	big := bytes.Repeat([]byte("nghttp2 "), 20_000)
	for name, content := range map[string][]byte{"index.html": []byte("hello from nghttpd\n"), "big.txt": big} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	upstream := freePort(t)
	srv := exec.Command("nghttpd", "--no-tls", "-d", dir, fmt.Sprint(upstream))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	waitListening(t, upstream)

	// The proxy records what it relays, as a capture between the two would see it.
	l, rec := listenRecorded(t)
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", upstream))
			if err != nil {
				_ = down.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, down); _ = up.Close() }()
			go func() { _, _ = io.Copy(down, up); _ = down.Close() }()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	base := "http://" + l.Addr().String()

	out, err := exec.Command("nghttp", "-n", "-b", "30", "-H", "authorization: Bearer "+secret,
		base+"/index.html", base+"/big.txt", base+"/missing").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp: %v\n%s", err, out)
	}
	out, err = exec.Command("h2load", "-n", "200", "-c", "1", "-m", "20", base+"/index.html").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "200 succeeded") {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	time.Sleep(100 * time.Millisecond)

	got := replay(t, rec, 64<<10)
	counts := map[string]int{}
	for _, e := range got {
		key := fmt.Sprintf("%s %s", e.Request.Method, e.Request.Path)
		if e.Response != nil {
			key += fmt.Sprintf(" %d %d", e.Response.Status, e.Response.BodySize)
		}
		if e.Error != nil {
			key += " " + *e.Error
		}
		counts[key]++
		if e.Request.Path == "/index.html" && (e.Response == nil || e.Response.Body == nil || e.Response.Body.Text != "hello from nghttpd\n") {
			t.Errorf("index.html body %+v", e.Response)
		}
		if e.Request.Path == "/big.txt" && (e.Response.Body == nil || !e.Response.Body.Truncated || e.Response.Body.Text != string(big[:64<<10])) {
			t.Errorf("big.txt body truncated %v, %d chars", e.Response.Body.Truncated, len(e.Response.Body.Text))
		}
	}
	want := map[string]int{
		"GET /index.html 200 19":                                      201,
		fmt.Sprintf("GET /big.txt 200 %d", len(big)):                  1,
		"GET /missing 404 " + fmt.Sprint(bodySizeOf(got, "/missing")): 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("exchanges %v, want %v", counts, want)
	}
	j, _ := json.Marshal(got)
	if bytes.Contains(j, []byte(secret)) {
		t.Errorf("%q leaked", secret)
	}
}

func bodySizeOf(ex []*exchange.Exchange, path string) int64 {
	for _, e := range ex {
		if e.Request.Path == path && e.Response != nil {
			return e.Response.BodySize
		}
	}
	return -1
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = c.Close()
			return
		}
	}
	t.Fatalf("nothing listening on %d", port)
}
