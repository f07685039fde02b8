package main

import (
	"fmt"
	"io"
)

func live(args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "spider-whisperer: live mode not built yet")
	return 2
}
