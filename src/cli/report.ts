/** `tiermesh report`: how a traffic sample would be routed, what it would cost, and what it saves vs the baseline. */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ModelRouteSpec } from '../api/modelroute.js';
import { ConfigError, loadConfigFile } from '../config/manifests.js';
import { isTiermeshError } from '../errors.js';
import {
  DEFAULT_COMPLETION_TOKENS,
  formatSavings,
  type RoutedRequest,
  summarizeSavings,
} from '../report/savings.js';
import { savingsSvg } from '../report/svg.js';
import { parseTraffic } from '../report/traffic.js';
import { decide, type LearnedScorer } from '../routing/decide.js';
import { ModelFileError } from '../routing/learned/classifier.js';

const HELP = `usage: tiermesh report --config ROUTE.yaml TRAFFIC.jsonl [--out report.svg]

Routes every request of TRAFFIC.jsonl (one chat request per line: {"messages": [...], "model": "auto",
"task"?: "...", "user"?: "...", "usage"?: {"prompt_tokens", "completion_tokens"}}) with the config's routing
decision, and prints requests per tier, estimated cost against spec.baselineModel, and the savings.
No provider is called. Without usage, prompt tokens are estimated from the text and completion tokens are
max_tokens capped at ${DEFAULT_COMPLETION_TOKENS}.

  --config FILE   ModelRoute/ModelBudget manifests (as for the standalone sidecar)
  --out FILE      also write an SVG bar chart
`;

/** The baseline a route's savings are measured against: spec.baselineModel, else the top tier's first model. */
function baselineOf(spec: ModelRouteSpec) {
  const name = spec.baselineModel ?? spec.tiers[spec.tiers.length - 1]?.models[0];
  return spec.models.find((m) => m.name === name) ?? spec.models[spec.models.length - 1]!;
}

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      allowPositionals: true,
      options: { config: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  try {
    parsed = parse(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.config || positionals.length !== 1) {
    process.stderr.write(HELP);
    return 2;
  }
  try {
    let snapshot = await loadConfigFile(values.config);
    const traffic = parseTraffic(await readFile(positionals[0]!, 'utf8'));
    for (const p of traffic.problems) process.stderr.write(`skipped ${p}\n`);
    let learned: LearnedScorer | undefined;
    // The weights are decoded only when a route asks for them, as in the sidecar.
    if (snapshot.routes.some((r) => r.spec.classifier.mode !== 'rules')) {
      const wire = await import('../routing/learned/wire.js');
      ({ snapshot, learned } = wire.wireLearned(snapshot));
    }
    const multiRoute = snapshot.routes.length > 1;
    const routed: RoutedRequest[] = [];
    let failed = 0;
    for (const { line, request, entry } of traffic.lines) {
      try {
        const d = decide({
          snapshot,
          request,
          headers: { task: entry.task, user: entry.user },
          ...(learned ? { learned } : {}),
        });
        const model = d.models[0]!;
        routed.push({
          tier: multiRoute ? `${d.route}/${d.tierName || model.name}` : d.tierName || model.name,
          tierIndex: d.tierIndex,
          model,
          baseline: baselineOf(d.spec),
          promptTokens: entry.usage?.prompt_tokens ?? d.estimatedPromptTokens,
          completionTokens:
            entry.usage?.completion_tokens ??
            Math.min(d.requestedMaxTokens || DEFAULT_COMPLETION_TOKENS, DEFAULT_COMPLETION_TOKENS),
        });
      } catch (e) {
        if (!isTiermeshError(e)) throw e;
        failed++;
        process.stderr.write(`line ${line}: ${e.code}: ${e.message}\n`);
      }
    }
    const tierNames = snapshot.routes.flatMap((r) =>
      r.spec.tiers.map((t) => (multiRoute ? `${r.name}/${t.name}` : t.name)),
    );
    const report = summarizeSavings(routed, tierNames);
    process.stdout.write(formatSavings(report));
    if (failed > 0) process.stdout.write(`not routable:   ${failed} (see stderr)\n`);
    if (values.out) {
      await writeFile(values.out, savingsSvg(report));
      process.stdout.write(`wrote ${values.out}\n`);
    }
    return report.requests > 0 ? 0 : 1;
  } catch (e) {
    if (e instanceof ModelFileError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`cannot read ${(e as NodeJS.ErrnoException).path}\n`);
      return 2;
    }
    throw e;
  }
}
