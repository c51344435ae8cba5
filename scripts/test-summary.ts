/**
 * Prints vitest's JSON results as one plain closing line ("tests: N passed, N failed, N skipped") that CI reads.
 * Several result files (the main run, the real-node run) are summed; the first must exist, later ones may not
 * (a run that could not start wrote none, and its own output says why).
 */
import { existsSync, readFileSync } from 'node:fs';

interface Results {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.cache/vitest-results.json'];
const total = { passed: 0, failed: 0, skipped: 0 };
for (const [i, file] of files.entries()) {
  if (i > 0 && !existsSync(file)) continue;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
    total.passed += r.numPassedTests;
    total.failed += r.numFailedTests;
    total.skipped += r.numPendingTests + r.numTodoTests;
  } catch (e) {
    console.error(`no test results in ${file}: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
