package env

import (
	"strings"
	"testing"
	"time"
)

func reader(m map[string]string) *Reader {
	return &Reader{Lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func TestReader(t *testing.T) {
	r := reader(map[string]string{"PORT": "8081", "RATE": "0.5", "WAIT": "2s", "EMPTY": ""})
	if r.Port("PORT", 1) != 8081 || r.Float("RATE", 0, 0, 1) != 0.5 || r.Duration("WAIT", 0, 0, time.Minute) != 2*time.Second {
		t.Fatal("values not read")
	}
	if r.String("EMPTY", "d") != "d" || r.Port("UNSET", 7) != 7 || r.Err != nil {
		t.Fatalf("defaults not used: %v", r.Err)
	}
}

func TestReaderErrorsNameTheVariable(t *testing.T) {
	cases := []func(r *Reader){
		func(r *Reader) { r.Port("V", 1) },
		func(r *Reader) { r.Float("V", 0, 0, 1) },
		func(r *Reader) { r.Duration("V", 0, 0, time.Second) },
	}
	for i, values := range []string{"70000", "1.5", "5s"} {
		r := reader(map[string]string{"V": values})
		cases[i](r)
		if r.Err == nil || !strings.HasPrefix(r.Err.Error(), `V="`+values+`"`) {
			t.Errorf("case %d: %v", i, r.Err)
		}
	}
}
