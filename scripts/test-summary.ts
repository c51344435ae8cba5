/** Prints vitest's JSON results as one plain closing line ("tests: N passed, N failed, N skipped") that CI reads. */
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.cache/vitest-results.json';
try {
  const r = JSON.parse(readFileSync(file, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  console.log(
    `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
  );
} catch (e) {
  console.error(`no test results in ${file}: ${(e as Error).message}`);
  process.exitCode = 1;
}
