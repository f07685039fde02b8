package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spider-backstage/spider/whisperer/internal/live"
)

// runLive is the default mode: capture in the pod and report to the agent.
func runLive(args []string, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "spider-whisperer: live mode takes no arguments (configuration comes from SPIDER_* variables), got %q\n", args)
		return 2
	}
	env, err := live.EnvFromOS()
	if err != nil {
		fmt.Fprintf(stderr, "spider-whisperer: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stopProfile := startProfile()
	defer stopProfile()
	return live.Run(ctx, env, stderr)
}
