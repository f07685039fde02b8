package httpjson

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type item struct {
	Name string `json:"name"`
}

func TestDecode(t *testing.T) {
	cases := map[string]struct {
		body, ct, wantErr string
	}{
		"ok":            {`{"name":"a"}`, "application/json", ""},
		"no type":       {`{"name":"a"}`, "", ""},
		"wrong type":    {`{"name":"a"}`, "text/plain", "not application/json"},
		"unknown field": {`{"nom":"a"}`, "application/json", "unknown field"},
		"two values":    {`{"name":"a"}{}`, "application/json", "more than one"},
		"too big":       {`{"name":"` + strings.Repeat("x", MaxBody) + `"}`, "application/json", "larger than"},
		"not json":      {`name=a`, "application/json", "invalid JSON"},
	}
	for name, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		var v item
		err := Decode(httptest.NewRecorder(), r, &v)
		if c.wantErr == "" && (err != nil || v.Name != "a") {
			t.Errorf("%s: %v %+v", name, err, v)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: got %v, want %q", name, err, c.wantErr)
		}
	}
}

func TestWriteGzipsLargeBodiesWhenAccepted(t *testing.T) {
	big := make([]item, 100)
	for i := range big {
		big[i].Name = "charge"
	}
	for _, c := range []struct {
		accept string
		v      any
		gz     bool
	}{
		{"gzip, deflate", big, true},
		{"br;q=1, gzip;q=0.5", big, true},
		{"gzip;q=0", big, false},
		{"", big, false},
		{"gzip", item{"small"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", c.accept)
		w := httptest.NewRecorder()
		Write(w, r, http.StatusOK, c.v)
		gz := w.Header().Get("Content-Encoding") == "gzip"
		if gz != c.gz {
			t.Fatalf("accept %q: gzip %v, want %v", c.accept, gz, c.gz)
		}
		body := io.Reader(w.Body)
		if gz {
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		data, _ := io.ReadAll(body)
		if !strings.HasPrefix(string(data), `[{"name":"charge"}`) && !strings.HasPrefix(string(data), `{"name":"small"}`) {
			t.Fatalf("body %q", data)
		}
	}
}
