/** `tiermesh train`: fit a learned routing model on your own logged outcomes and write it for `spec.classifier.modelRef`. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { classifierFromModel } from '../routing/learned/classifier.js';
import { OutcomesError, parseOutcomes } from '../routing/learned/outcomes.js';
import { trainOnOutcomes } from '../routing/learned/train-outcomes.js';

const HELP = `usage: tiermesh train --outcomes FILE.jsonl --out DIR

Fits a learned router on your own outcomes (JSONL, one {"prompt", "weak", "strong", "group"?} per line, qualities in
[0, 1]): ridge regression on the strong model's gain (strong - weak), features (length, structure, hashed n-grams)
and L2 chosen by 5-fold cross-validation (whole groups held out when there are 5 or more groups). Writes
DIR/model.json (point spec.classifier.modelRef at it) and DIR/validation.md. Deterministic.

A fold where the strong model is not better than the weak one has no gain to recover (PGR undefined): it is not
scored and does not steer the choice. Outcomes with no gain at all are refused (exit 1). When no setting beats the
constant model, it is written with a warning: it gives every prompt the same score.
`;

export async function run(args: string[]): Promise<number> {
  let values: { outcomes?: string | undefined; out?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        outcomes: { type: 'string' },
        out: { type: 'string' },
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
  if (!values.outcomes || !values.out) {
    process.stderr.write(`--outcomes and --out are required\n\n${HELP}`);
    return 2;
  }
  const path = resolve(values.outcomes);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    process.stderr.write(`cannot read outcomes file ${path}\n`);
    return 1;
  }
  let result: ReturnType<typeof trainOnOutcomes>;
  try {
    result = trainOnOutcomes(parseOutcomes(text));
  } catch (e) {
    if (!(e instanceof OutcomesError)) throw e;
    process.stderr.write(`${path}: ${e.message}\n`);
    return 1;
  }
  // What is written must load: the same validation a route applies to modelRef.
  classifierFromModel(JSON.parse(JSON.stringify(result.file)));
  const dir = resolve(values.out);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(result.file)}\n`);
  const table = [
    `# tiermesh train: validation (${result.foldsBy === 'group' ? 'whole groups' : 'random prompts'} held out, 5 folds)`,
    '',
    `prompt length alone: APGR ${result.lengthApgr.toFixed(3)} (random: 0.500)`,
    '',
    ...(result.noGainFolds > 0
      ? [
          `${result.noGainFolds} of ${result.folds} folds not scored: the strong model is not better than the weak one on their held-out outcomes (no gain to recover, PGR undefined), so they do not steer the choice.`,
          '',
        ]
      : []),
    '| setting | mean fold APGR | folds |',
    '|---|---:|---|',
    ...result.validation.map(
      (v) => `| ${v.setting} | ${v.apgr.toFixed(3)} | ${v.folds.map((f) => f.toFixed(2)).join(' ')} |`,
    ),
    '',
    `chosen: ${result.chosen}`,
    '',
    ...(result.ranks
      ? []
      : [
          `warning: this model does not rank prompts: it gives every prompt the same score${result.chosen === 'constant' ? ' (no setting beat the constant model on validation)' : ''}, so a route using it cannot pick out the prompts that need the premium tier (no better than random routing); keep the route on its current model.`,
          '',
        ]),
  ].join('\n');
  writeFileSync(join(dir, 'validation.md'), table);
  process.stdout.write(`${table}\nwrote ${join(dir, 'model.json')} and validation.md\n`);
  return 0;
}
