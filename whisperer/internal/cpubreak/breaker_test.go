package cpubreak

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t0 := time.Unix(0, 0)
	cases := []struct {
		name   string
		cores  []float64 // usage during each second
		breaks []int     // seconds at which a pause begins
		paused []int     // seconds at which capture is paused (checked after Observe)
	}{
		{name: "under the limit", cores: []float64{0.1, 0.4, 0.5, 0.2}, breaks: nil},
		{name: "one spike is tolerated", cores: []float64{0.9, 0.1, 0.9, 0.1}, breaks: nil},
		{name: "two seconds over pause", cores: []float64{0.9, 0.9, 0.1, 0.1, 0.1}, breaks: []int{2}, paused: []int{2, 3}},
		{name: "stays over: pauses again after the pause", cores: []float64{1, 1, 1, 1, 1, 1, 1}, breaks: []int{2, 5}, paused: []int{2, 3, 5, 6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := New(0.5, 2*time.Second)
			cpu := time.Duration(0)
			b.Observe(cpu, t0)
			var breaks, paused []int
			for i, cores := range c.cores {
				cpu += time.Duration(cores * float64(time.Second))
				now := t0.Add(time.Duration(i+1) * time.Second)
				if b.Observe(cpu, now) {
					breaks = append(breaks, i+1)
				}
				if b.Paused(now) {
					paused = append(paused, i+1)
				}
			}
			if !equal(breaks, c.breaks) || !equal(paused, c.paused) || b.Breaks != int64(len(c.breaks)) {
				t.Fatalf("breaks %v paused %v, want %v %v", breaks, paused, c.breaks, c.paused)
			}
		})
	}
	if ProcessCPU() <= 0 || ProcessMaxRSS() <= 0 {
		t.Fatal("getrusage gave nothing")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
