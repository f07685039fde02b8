package live

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Env is what the agent sets in the injected container (whisperer-contract.md).
type Env struct {
	AgentURL string
	Instance string
	// Secret proves to the agent that a call comes from this instance (contract v1.2).
	Secret       string
	DNS          string
	Filter       string
	ExpiresAt    *time.Time
	AttachmentID string
	PodName      string
	PodNamespace string
	// Device to capture on; "any" (every interface of the pod) unless SPIDER_CAPTURE_DEVICE says.
	Device string
}

// EnvFromOS reads and checks the environment; the error names the variable.
func EnvFromOS() (Env, error) {
	e := Env{
		AgentURL:     strings.TrimSpace(os.Getenv("SPIDER_AGENT_URL")),
		Instance:     strings.TrimSpace(os.Getenv("SPIDER_INSTANCE")),
		Secret:       strings.TrimSpace(os.Getenv("SPIDER_INSTANCE_SECRET")),
		DNS:          strings.TrimSpace(os.Getenv("SPIDER_DNS")),
		Filter:       os.Getenv("SPIDER_CAPTURE_FILTER"),
		AttachmentID: os.Getenv("SPIDER_ATTACHMENT_ID"),
		PodName:      os.Getenv("SPIDER_POD_NAME"),
		PodNamespace: os.Getenv("SPIDER_POD_NAMESPACE"),
		Device:       strings.TrimSpace(os.Getenv("SPIDER_CAPTURE_DEVICE")),
	}
	if e.AgentURL == "" {
		return e, fmt.Errorf("SPIDER_AGENT_URL is not set (the agent sets it when it injects the whisperer)")
	}
	if u, err := url.Parse(e.AgentURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return e, fmt.Errorf("SPIDER_AGENT_URL %q is not an http(s) URL", e.AgentURL)
	}
	if e.Instance == "" || strings.ContainsAny(e.Instance, "/?#% ") {
		return e, fmt.Errorf("SPIDER_INSTANCE %q is not a container name", e.Instance)
	}
	// It travels in a header: anything outside the token alphabet could split it.
	if strings.ContainsAny(e.Secret, "\r\n\t ") {
		return e, fmt.Errorf("SPIDER_INSTANCE_SECRET is not a token (it contains white space)")
	}
	if s := strings.TrimSpace(os.Getenv("SPIDER_EXPIRES_AT")); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return e, fmt.Errorf("SPIDER_EXPIRES_AT %q is not an ISO time: %v", s, err)
		}
		e.ExpiresAt = &t
	}
	return e, nil
}
