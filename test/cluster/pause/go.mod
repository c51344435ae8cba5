// The pod sandbox process for the test node (no dependencies).
module tiermesh.dev/test/cluster/pause

go 1.24.0
