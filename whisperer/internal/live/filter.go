package live

import (
	"net/netip"
	"net/url"
	"strconv"
)

// effectiveFilter keeps the whisperer's own calls to the agent out of the capture (else
// every batch it sends would be captured and sent again): "(<filter>) and not (tcp and
// host <agent> and port <port>)" when the agent's address is an IP literal.
func effectiveFilter(filter, agentURL string) string {
	u, err := url.Parse(agentURL)
	if err != nil {
		return filter
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return filter
	}
	if _, err := strconv.Atoi(port); err != nil {
		return filter
	}
	self := "not (tcp and host " + a.Unmap().String() + " and port " + port + ")"
	if filter == "" {
		return self
	}
	return "(" + filter + ") and " + self
}
