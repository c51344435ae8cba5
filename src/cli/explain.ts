/** `tiermesh explain`: prints, as JSON, how a prompt would be routed under a config file, without calling a provider. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type ChatCompletionRequest, chatCompletionRequest } from '../api/openai.js';
import { ConfigError, loadConfigFile } from '../config/manifests.js';
import { isTiermeshError } from '../errors.js';
import { decide, type LearnedScorer } from '../routing/decide.js';
import { explainDecision } from '../routing/explain.js';
import { ModelFileError } from '../routing/learned/classifier.js';

const USAGE = `usage: tiermesh explain --config <file> [--model auto] [--task <type>] [--user <id>] [--max-tokens <n>]
                        [--system <text>] [--stream] [--priority <class>] [--group <name>] "<prompt>"
       tiermesh explain --config <file> [--task ...] [--user ...] [--priority ...] [--group ...] --request <body.json>
       tiermesh explain --sidecar <url> [--task ...] [--session <id>] ... "<prompt>" | --request <body.json>

Prints the routing decision for the prompt (or for a whole chat-completions request body) as JSON: route, tier,
model, score, confidence, signals, escalation, capabilities needed and models skipped, priority class, queue class
and limits, review flag, context truncation, estimated tokens and cost. No provider is called.

With --config the decision is made here from the manifests; latency observations and queue occupancy exist only in
a running sidecar, so they are empty ("live": false, "notes" says so). With --sidecar <url> (e.g.
http://127.0.0.1:4000) the running sidecar explains with its live config, observations, queues and conversations.
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
  if (
    (values.config === undefined) === (values.sidecar === undefined) ||
    (positionals.length === 0) === (values.request === undefined)
  ) {
    const why =
      values.config === undefined && values.sidecar === undefined
        ? '--config (or --sidecar) is required'
        : values.config !== undefined && values.sidecar !== undefined
          ? "--sidecar explains with the sidecar's own config: give --config or --sidecar, not both"
          : values.request === undefined
            ? 'a prompt (or --request) is required'
            : '--request replaces the prompt: give one, not both';
    process.stderr.write(`${why}\n\n${USAGE}`);
    return 2;
  }
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens >= 1)) {
    process.stderr.write('--max-tokens must be a positive integer\n');
    return 2;
  }
  try {
    let request: ChatCompletionRequest;
    if (values.request !== undefined) {
      const r = await readRequest(values.request);
      if (typeof r === 'string') {
        process.stderr.write(`${r}\n`);
        return 1;
      }
      request = r;
    } else {
      const messages = [
        ...(values.system ? [{ role: 'system' as const, content: values.system }] : []),
        { role: 'user' as const, content: positionals.join(' ') },
      ];
      request = {
        model: values.model ?? 'auto',
        messages,
        ...(maxTokens ? { max_tokens: maxTokens } : {}),
        ...(values.stream ? { stream: true } : {}),
      };
    }
    if (values.sidecar !== undefined) return await explainBySidecar(values.sidecar, request, values);
    let snapshot = await loadConfigFile(values.config!);
    let learned: LearnedScorer | undefined;
    // Same wiring as the sidecar: learned/hybrid routes score on the learned classifier's percentile scale.
    if (snapshot.routes.some((r) => r.spec.classifier.mode !== 'rules')) {
      const wire = await import('../routing/learned/wire.js');
      ({ snapshot, learned } = wire.wireLearned(snapshot));
    }
    const decision = decide({
      snapshot,
      request,
      headers: { task: values.task, user: values.user, priority: values.priority, group: values.group },
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

/**
 * POST /v1/explain on a running sidecar with the routing headers the flags set; prints its answer. An error answer
 * is printed as `code: message` (the sidecar's own words, which never quote the prompt).
 */
async function explainBySidecar(
  base: string,
  request: ChatCompletionRequest,
  flags: { task?: string; user?: string; priority?: string; group?: string; session?: string },
): Promise<number> {
  let url: URL;
  try {
    url = new URL('/v1/explain', base);
  } catch {
    process.stderr.write(`--sidecar ${base}: not a URL\n`);
    return 2;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [flag, header] of [
    ['task', 'x-tiermesh-task'],
    ['user', 'x-tiermesh-user'],
    ['priority', 'x-tiermesh-priority'],
    ['group', 'x-tiermesh-group'],
    ['session', 'x-tiermesh-session'],
  ] as const) {
    const v = flags[flag];
    if (v !== undefined) headers[header] = v;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (e as Error).message;
    process.stderr.write(`--sidecar ${url.origin}: ${cause}\n`);
    return 1;
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    process.stderr.write(`--sidecar ${url.origin}: HTTP ${res.status}, not JSON\n`);
    return 1;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string; param?: string | null } }).error;
    process.stderr.write(
      `${err?.code ?? `HTTP ${res.status}`}: ${err?.message ?? 'explain failed'}${err?.param ? ` (param: ${err.param})` : ''}\n`,
    );
    return 1;
  }
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  return 0;
}

/** A chat-completions body from a file, or why it is not one (field paths only, never its text). */
async function readRequest(path: string): Promise<ChatCompletionRequest | string> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    return `--request ${path}: ${(e as NodeJS.ErrnoException).code ?? 'not valid JSON'}`;
  }
  const r = chatCompletionRequest.safeParse(json);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  return `--request ${path}: ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`;
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
      stream: { type: 'boolean' },
      priority: { type: 'string' },
      group: { type: 'string' },
      session: { type: 'string' },
      sidecar: { type: 'string' },
      request: { type: 'string', short: 'r' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
