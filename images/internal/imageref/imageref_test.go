package imageref

import (
	"strings"
	"testing"
)

func TestParseNormalisesShortNames(t *testing.T) {
	n, err := Parse("spider/pause:3.10")
	if err != nil {
		t.Fatal(err)
	}
	if n.Path != "spider/pause" || n.Tag != "3.10" || n.Short != "spider/pause:3.10" {
		t.Fatalf("unexpected parts: %+v", n)
	}
	// The full name has a registry host in front of the path and ends with the tag; the
	// host itself is the library's default, which this test does not spell out.
	host, rest, ok := strings.Cut(n.Full, "/")
	if !ok || !strings.Contains(host, ".") || rest != "spider/pause:3.10" {
		t.Fatalf("full name %q is not host/spider/pause:3.10", n.Full)
	}
	if n.Repository+":3.10" != n.Full {
		t.Fatalf("repository %q does not prefix full %q", n.Repository, n.Full)
	}
}

func TestParseKeepsExplicitRegistry(t *testing.T) {
	n, err := Parse("localhost:5000/spider/whisperer:0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if n.Full != "localhost:5000/spider/whisperer:0.1.0" || n.Path != "spider/whisperer" {
		t.Fatalf("unexpected: %+v", n)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"", "spider/pause", "Spider/Pause:1", "spider/pause@sha256:" + strings.Repeat("a", 64), "spider/pause:"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestInRegistry(t *testing.T) {
	n, _ := Parse("spider/demo-payments:0.1.0")
	m, err := n.InRegistry("localhost:5000/team")
	if err != nil {
		t.Fatal(err)
	}
	if m.Full != "localhost:5000/team/spider/demo-payments:0.1.0" {
		t.Fatalf("got %q", m.Full)
	}
	if _, err := n.InRegistry(""); err == nil {
		t.Fatal("empty prefix accepted")
	}
}
