/** `tiermesh eval`: routing quality (PGR, APGR, CPT) of the random, rules and learned routers on held-out data. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, hasData, loadAll } from '../routing/learned/datasets.js';
import {
  evalSets,
  evaluate,
  formatTable,
  learnedRouter,
  lengthRouter,
  randomRouter,
  rulesRouter,
} from '../routing/learned/evaluate.js';
import { loadLearnedClassifier } from '../routing/learned/model.js';

const HELP = `usage: tiermesh eval [--data DIR] [--json]

Scores the held-out part of the offline routing data (RouteLLM MMLU/GSM8K/MT-Bench outcomes, LLMRouter
scores) with each router and prints PGR at 20/50/80% strong calls, APGR and CPT(50%/80%).

  --data DIR   data directory (default: ../shared/data from the working directory)
  --json       print rows as JSON instead of a table
`;

export async function run(args: string[]): Promise<number> {
  let values: { data?: string | undefined; json?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { data: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const dir = resolve(values.data ?? defaultDataDir(process.cwd()));
  if (!hasData(dir)) {
    process.stderr.write(`no routing data at ${dir} (expected routellm/ and llmrouter/); pass --data\n`);
    return 1;
  }
  const rows = evaluate(evalSets(loadAll(dir)), [
    randomRouter,
    lengthRouter,
    rulesRouter,
    learnedRouter(loadLearnedClassifier()),
  ]);
  process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
  return 0;
}
