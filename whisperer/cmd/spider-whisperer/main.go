// spider-whisperer runs as an ephemeral container in a pod and reports its HTTP traffic
// to the Spider agent (live mode, the default), or prints the exchanges of a capture
// file (`read`).
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "read":
			os.Exit(readFile(args[1:], os.Stdout, os.Stderr))
		case "live":
			args = args[1:]
		case "-h", "--help", "help":
			fmt.Println("usage: spider-whisperer [live]       capture and report to the agent (SPIDER_* environment)")
			fmt.Println("       spider-whisperer read [--no-redact] FILE   print a capture file's exchanges as JSON lines")
			return
		default:
			fmt.Fprintf(os.Stderr, "spider-whisperer: unknown command %q (want read or live)\n", args[0])
			os.Exit(2)
		}
	}
	os.Exit(runLive(args, os.Stderr))
}
