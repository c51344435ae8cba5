// Command pause is the pod sandbox's process (what registry.k8s.io/pause runs): it holds the pod's namespaces,
// reaps orphaned children as PID 1, and exits on SIGINT/SIGTERM. No image registry is reachable here, so the
// test node builds its own.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
