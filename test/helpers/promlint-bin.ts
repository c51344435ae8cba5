/** Path of the `promtool check metrics` linter (test/helpers/promlint), built by scripts/promtool-bin.sh if missing. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function promlint(): string {
  const root = join(import.meta.dirname, '../..');
  const version = /github\.com\/prometheus\/client_golang (v\S+)/.exec(
    readFileSync(join(root, 'test/helpers/promlint/go.mod'), 'utf8'),
  )![1];
  const bin = join(
    process.env['TIERMESH_CLUSTER_BIN_DIR'] ?? join(root, '.cache/bin'),
    `promlint-${version}`,
  );
  if (!existsSync(bin)) {
    const built = spawnSync(join(root, 'scripts/promtool-bin.sh'), [], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`could not build promlint: ${built.stderr}`);
  }
  return bin;
}
