package live

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// effectiveFilter keeps the whisperer's own calls to the agent out of the capture (else
// every batch it sends would be captured and sent again): "(<filter>) and not (tcp and
// host <agent> and port <port>)". In a cluster the agent URL names its Service, so the
// name is resolved here (the pod's resolver gives the ClusterIP its packets are sent to);
// a name left in the filter would make libpcap resolve it at compile time, or fail.
func effectiveFilter(filter, agentURL string, resolve func(host string) []netip.Addr) string {
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
	if _, err := strconv.Atoi(port); err != nil {
		return filter
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else if resolve != nil {
		for _, a := range resolve(host) {
			addrs = append(addrs, a.Unmap())
		}
	}
	if len(addrs) == 0 {
		return filter
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	hosts := make([]string, 0, len(addrs))
	for i, a := range addrs {
		if i > 0 && a == addrs[i-1] {
			continue
		}
		hosts = append(hosts, "host "+a.String())
	}
	self := "not (tcp and (" + strings.Join(hosts, " or ") + ") and port " + port + ")"
	if len(hosts) == 1 {
		self = "not (tcp and " + hosts[0] + " and port " + port + ")"
	}
	if filter == "" {
		return self
	}
	return "(" + filter + ") and " + self
}

// resolveHost looks a name up with the pod's resolver, briefly: a slow or failing lookup
// only means the whisperer's own calls may be captured.
func resolveHost(host string) []netip.Addr {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	return ips
}
