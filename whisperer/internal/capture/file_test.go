package capture

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFileRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "text": "GET / HTTP/1.1\r\n\r\n", "short": "\xd4\xc3"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := OpenFile(p); !errors.Is(err, ErrNotCapture) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckFilter(t *testing.T) {
	for _, f := range []string{"", "tcp port 80", "tcp portrange 8000-9000 or (ip6 and tcp)", "not (tcp and host 10.0.0.1 and port 8081)"} {
		if err := CheckFilter(f, 65535); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
	for _, f := range []string{"tcp port", "tcpp", "port 99999"} {
		err := CheckFilter(f, 65535)
		var fe *FilterError
		if !errors.As(err, &fe) || fe.Filter != f || fe.Err == nil {
			t.Errorf("%q: %v", f, err)
		}
	}
}
