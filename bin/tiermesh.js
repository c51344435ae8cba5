#!/usr/bin/env node
// Entry point for the `tiermesh` command; the CLI itself lives in cmd/tiermesh.ts (built to dist/).
await import('../dist/cmd/tiermesh.js');
