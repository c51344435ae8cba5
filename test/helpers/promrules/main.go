// Command promrules checks Prometheus rule files as `promtool check rules --lint=duplicate-rules --lint-fatal`
// does: the same rulefmt.ParseFile (YAML shape, PromQL of every expr, templates of annotations, label names) with
// promtool's parser options and UTF-8 name validation, then the duplicate-rules lint. Exit 0 clean, 1 invalid,
// 3 lint problems. Built instead of promtool itself because cmd/promtool links every service discovery (cloud
// SDKs, Kubernetes client), too heavy to compile on 2 cores; these are the packages that command calls for rules.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: promrules FILE...")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p := parser.NewParser(parser.Options{})
	code := 0
	for _, f := range os.Args[1:] {
		fmt.Println("Checking", f)
		rgs, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, p, logger)
		if errs != nil {
			fmt.Fprintln(os.Stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(os.Stderr, e.Error())
			}
			code = 1
			continue
		}
		if dups := duplicates(rgs.Groups); len(dups) > 0 {
			fmt.Fprintf(os.Stderr, "  FAILED: %d duplicate rule(s) found: %s\n", len(dups), strings.Join(dups, ", "))
			if code == 0 {
				code = 3
			}
			continue
		}
		n := 0
		for _, g := range rgs.Groups {
			n += len(g.Rules)
		}
		fmt.Printf("  SUCCESS: %d rules found\n", n)
	}
	os.Exit(code)
}

// duplicates: rules with the same alert/record name and the same labels, as promtool's checkDuplicates.
func duplicates(groups []rulefmt.RuleGroup) []string {
	seen := map[string]int{}
	for _, g := range groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			// Group labels, overridden by the rule's own: what promtool's rules.FromMaps builds.
			merged := map[string]string{}
			for k, v := range g.Labels {
				merged[k] = v
			}
			for k, v := range r.Labels {
				merged[k] = v
			}
			seen[name+labels.FromMap(merged).String()]++
		}
	}
	var out []string
	for k, n := range seen {
		if n > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
