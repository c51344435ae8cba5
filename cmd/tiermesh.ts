/** The `tiermesh` command: one binary for the sidecar, the operator and the offline tools. */
const commands: Record<
  string,
  { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }
> = {
  sidecar: {
    summary: 'run the OpenAI-compatible routing proxy',
    load: () => import('../src/cli/sidecar.js'),
  },
  operator: {
    summary: 'run the operator (controllers, config push, webhook)',
    load: () => import('../src/cli/operator.js'),
  },
  explain: {
    summary: 'print the routing decision for a prompt, without calling a provider',
    load: () => import('../src/cli/explain.js'),
  },
  eval: {
    summary: 'measure routing quality (PGR, APGR, CPT) on offline data',
    load: () => import('../src/cli/eval.js'),
  },
  train: {
    summary: 'fit a learned routing model on your own outcomes (JSONL)',
    load: () => import('../src/cli/train.js'),
  },
  report: {
    summary: 'show how a traffic sample would be routed and what it would save',
    load: () => import('../src/cli/report.js'),
  },
  outcomes: {
    summary: 'export routing outcomes from a sidecar decision log (for eval/train --outcomes)',
    load: () => import('../src/cli/outcomes.js'),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `usage: tiermesh <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'tiermesh <command> --help' for a command's options.\n`;
}

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  // Asked for, the usage is the answer (stdout, so `tiermesh --help | less` works); otherwise it explains an error.
  const asked = name === '--help' || name === '-h';
  if (asked) process.stdout.write(usage());
  else process.stderr.write(name ? `unknown command: ${name}\n\n${usage()}` : usage());
  process.exitCode = asked ? 0 : 2;
} else {
  const mod = await command.load();
  process.exitCode = await mod.run(args);
}
