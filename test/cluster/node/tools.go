//go:build tools

// Package tools pins the node's commands so `go mod tidy` keeps their dependencies; the version of
// k8s.io/kubernetes (and every staging module) is the one test/cluster/apiserver pins.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
