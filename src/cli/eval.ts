/**
 * `tiermesh eval`: routing quality (PGR, APGR, CPT) of the random, length, rules, learned, hybrid and default
 * routers, on a team's own outcomes (--outcomes) or on the held-out part of the offline data (--data).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, hasData, loadAll } from '../routing/learned/datasets.js';
import {
  allRouters,
  evalSets,
  evaluate,
  evaluateOutcomes,
  formatOutcomeTable,
  formatTable,
} from '../routing/learned/evaluate.js';
import { MIN_MEAN_GAIN } from '../routing/learned/metrics.js';
import {
  type LearnedClassifier,
  loadLearnedClassifier,
  loadModelFile,
  ModelFileError,
} from '../routing/learned/model.js';
import { OutcomesError, parseOutcomes } from '../routing/learned/outcomes.js';

const HELP = `usage: tiermesh eval [--outcomes FILE.jsonl | --data DIR] [--model FILE] [--json]

Scores routers by the RouteLLM measures: PGR at 20/50/80% strong calls, APGR (area under PGR), CPT(50%/80%)
(share of strong calls needed for 50%/80% of the quality gap). Routers: random, length, rules, learned, hybrid,
default (what a ModelRoute with no classifier settings uses).

  --outcomes FILE  JSONL, one {"prompt": "...", "weak": q, "strong": q, "group"?: "..."} per line, qualities in
                   [0, 1]: your own logged outcomes (weak = cheapest tier, strong = the premium one). Rows for
                   all outcomes, then per group.
  --data DIR       without --outcomes: the held-out part of the offline data (default ../shared/data)
  --model FILE     score learned/hybrid/default with a model from 'tiermesh train' instead of the shipped one
  --json           print rows as JSON, flat: router, n, qWeak, qStrong, pgr20, pgr50, pgr80, apgr, cpt50, cpt80
                   (fractions, not percentages), plus group (--outcomes) or set and pair (--data)

Where the strong model is not better than the weak one (mean quality gain under ${MIN_MEAN_GAIN}) there is no gain to recover
and PGR is undefined: that row's measures are null in --json (with a notMeasured reason) and n/a in the table.
`;

export async function run(args: string[]): Promise<number> {
  let values: {
    data?: string | undefined;
    outcomes?: string | undefined;
    model?: string | undefined;
    json?: boolean | undefined;
    help?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        data: { type: 'string' },
        outcomes: { type: 'string' },
        model: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let model: LearnedClassifier;
  try {
    model = values.model ? loadModelFile(resolve(values.model)) : loadLearnedClassifier();
  } catch (e) {
    if (!(e instanceof ModelFileError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  const routers = allRouters(model);
  if (values.outcomes) {
    const path = resolve(values.outcomes);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      process.stderr.write(`cannot read outcomes file ${path}\n`);
      return 1;
    }
    let items: ReturnType<typeof parseOutcomes>;
    try {
      items = parseOutcomes(text);
    } catch (e) {
      if (!(e instanceof OutcomesError)) throw e;
      process.stderr.write(`${path}: ${e.message}\n`);
      return 1;
    }
    const rows = evaluateOutcomes(items, routers);
    process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : formatOutcomeTable(rows));
    return 0;
  }
  const dir = resolve(values.data ?? defaultDataDir(process.cwd()));
  if (!hasData(dir)) {
    process.stderr.write(
      `no routing data at ${dir} (expected routellm/ and llmrouter/); pass --data or --outcomes\n`,
    );
    return 1;
  }
  const rows = evaluate(evalSets(loadAll(dir)), routers);
  process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
  return 0;
}
