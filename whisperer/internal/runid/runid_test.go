package runid

import (
	"regexp"
	"testing"
)

func TestSequence(t *testing.T) {
	a, b := New(), New()
	if a.Run() == b.Run() {
		t.Fatal("two runs share an id")
	}
	re := regexp.MustCompile(`^[a-z0-9]{10}\.[0-9]+$`)
	for i := 1; i <= 3; i++ {
		id := a.Next()
		if !re.MatchString(id) || id != a.Run()+"."+string(rune('0'+i)) {
			t.Fatalf("id %q", id)
		}
	}
}
