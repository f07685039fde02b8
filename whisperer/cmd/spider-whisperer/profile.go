package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $SPIDER_CPU_PROFILE when set (for tuning against
// the benchmark); the returned function stops it.
func startProfile() func() {
	path := os.Getenv("SPIDER_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
