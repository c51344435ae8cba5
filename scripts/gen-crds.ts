/** Writes crds/*.yaml from the zod schemas; with --check, fails instead when the checked-in files are stale. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crds, renderCrd } from '../src/api/crd.js';

const dir = join(import.meta.dirname, '..', 'crds');
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, crd] of Object.entries(crds)) {
  const path = join(dir, file);
  const want = renderCrd(crd);
  if (check) {
    const have = await readFile(path, 'utf8').catch(() => '');
    if (have !== want) {
      stale++;
      console.error(`crds/${file} is stale: run \`make crds\` and commit the result`);
    }
  } else {
    await writeFile(path, want);
    console.log(`wrote crds/${file}`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
