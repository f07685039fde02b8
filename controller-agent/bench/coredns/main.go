// A CoreDNS binary with only the plugins the DNS benchmark uses (bind, errors, hosts), built
// from the CoreDNS module the same way CoreDNS documents external builds: the server
// core is the stock one, only the plugin list is short (the full list pulls in every
// cloud SDK and takes far longer to build on a shared 2-core machine).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/hosts"
)

func init() {
	// Same relative order as CoreDNS's plugin.cfg.
	dnsserver.Directives = []string{"bind", "errors", "hosts"}
}

func main() {
	coremain.Run()
}
