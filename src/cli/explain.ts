/** `tiermesh explain`: prints, as JSON, how a prompt would be routed under a config file, without calling a provider. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/manifests.js';
import { isTiermeshError } from '../errors.js';
import { decide, type LearnedScorer } from '../routing/decide.js';
import { explainDecision } from '../routing/explain.js';
import { ModelFileError } from '../routing/learned/classifier.js';

const USAGE = `usage: tiermesh explain --config <file> [--model auto] [--task <type>] [--user <id>] [--max-tokens <n>] [--system <text>] "<prompt>"

Prints the routing decision for the prompt as JSON: route, tier, model, score, confidence, signals,
escalation, estimated tokens and cost. No provider is called.
`;

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.config || positionals.length === 0) {
    process.stderr.write(`${!values.config ? '--config is required' : 'a prompt is required'}\n\n${USAGE}`);
    return 2;
  }
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens >= 1)) {
    process.stderr.write('--max-tokens must be a positive integer\n');
    return 2;
  }
  try {
    let snapshot = await loadConfigFile(values.config);
    let learned: LearnedScorer | undefined;
    // Same wiring as the sidecar: learned/hybrid routes score on the learned classifier's percentile scale.
    if (snapshot.routes.some((r) => r.spec.classifier.mode !== 'rules')) {
      const wire = await import('../routing/learned/wire.js');
      ({ snapshot, learned } = wire.wireLearned(snapshot));
    }
    const messages = [
      ...(values.system ? [{ role: 'system' as const, content: values.system }] : []),
      { role: 'user' as const, content: positionals.join(' ') },
    ];
    const decision = decide({
      snapshot,
      request: { model: values.model ?? 'auto', messages, ...(maxTokens ? { max_tokens: maxTokens } : {}) },
      headers: { task: values.task, user: values.user },
      ...(learned ? { learned } : {}),
    });
    process.stdout.write(`${JSON.stringify(explainDecision(decision), null, 2)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ModelFileError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (isTiermeshError(e)) {
      process.stderr.write(`${e.code}: ${e.message}${e.param ? ` (param: ${e.param})` : ''}\n`);
      return 1;
    }
    throw e;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      model: { type: 'string', short: 'm' },
      task: { type: 'string', short: 't' },
      user: { type: 'string', short: 'u' },
      'max-tokens': { type: 'string' },
      system: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
