// Command promlint checks Prometheus text exposition from stdin exactly as `promtool check metrics` does:
// the official expfmt parser, then the client_golang promlint rules. Exit 0 clean, 1 unparsable, 3 lint problems.
// Built instead of promtool itself because the full Prometheus module graph is too heavy to compile on 2 cores.
package main

import (
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func main() {
	problems, err := promlint.New(os.Stdin).Lint()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error while linting:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p.Metric, p.Text)
	}
	if len(problems) > 0 {
		os.Exit(3)
	}
}
