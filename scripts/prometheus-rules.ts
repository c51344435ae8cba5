/**
 * Reads rendered manifests (helm template output) on stdin and prints the rule groups of every PrometheusRule as
 * one Prometheus rule file, the input `promtool check rules` takes. Exits 1 when there is no PrometheusRule.
 */
import { parseAllDocuments } from 'yaml';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const groups: unknown[] = [];
for (const doc of parseAllDocuments(Buffer.concat(chunks).toString('utf8'))) {
  const o = doc.toJS() as { kind?: string; spec?: { groups?: unknown[] } } | null;
  if (o?.kind === 'PrometheusRule') groups.push(...(o.spec?.groups ?? []));
}
if (groups.length === 0) {
  process.stderr.write('prometheus-rules: no PrometheusRule in the input\n');
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ groups }, null, 2)}\n`);
