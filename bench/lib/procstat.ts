/** Memory of a process tree from /proc: VmRSS (now) and VmHWM (peak), summed over the process and its descendants. */
import { readdirSync, readFileSync } from 'node:fs';

export interface Memory {
  rssKiB: number;
  /** Sum of each process's own peak: an upper bound of the tree's peak when it has several processes. */
  hwmKiB: number;
  processes: number;
}

/** Reads `VmRSS:` and `VmHWM:` (kB) out of a /proc/<pid>/status text; missing fields are 0 (kernel threads). */
export function parseProcStatus(text: string): { rssKiB: number; hwmKiB: number } {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** Child pids from the texts of /proc/<pid>/task/<tid>/children (each lists one thread's children). */
export function parseChildren(texts: readonly string[]): number[] {
  return [...new Set(texts.flatMap((t) => t.split(/\s+/).filter(Boolean).map(Number)))];
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The pids pid started (its direct children). */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return parseChildren(tasks.map((tid) => read(`/proc/${pid}/task/${tid}/children`)));
}

/** Memory of pid and all its descendants; undefined once the process is gone. */
export function treeMemory(pid: number, depth = 0): Memory | undefined {
  const status = read(`/proc/${pid}/status`);
  if (!status) return undefined;
  const own = parseProcStatus(status);
  const total: Memory = { rssKiB: own.rssKiB, hwmKiB: own.hwmKiB, processes: 1 };
  // Depth-bounded: a process tree deeper than this is not a proxy under test.
  if (depth >= 8) return total;
  for (const child of childrenOf(pid)) {
    const m = treeMemory(child, depth + 1);
    if (!m) continue;
    total.rssKiB += m.rssKiB;
    total.hwmKiB += m.hwmKiB;
    total.processes += m.processes;
  }
  return total;
}

/** utime + stime (clock ticks) from a /proc/<pid>/stat text; the command name may itself hold spaces or parens. */
export function parseStatTicks(text: string): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so utime (field 14) and stime (field 15) are rest[11] and rest[12].
  return Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
}

/** CPU clock ticks used so far by pid and its descendants. */
export function treeCpuTicks(pid: number, depth = 0): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  let ticks = parseStatTicks(stat);
  if (depth < 8) for (const child of childrenOf(pid)) ticks += treeCpuTicks(child, depth + 1);
  return ticks;
}

/** The command name of pid (/proc/<pid>/comm), or '' once it is gone. */
export function commOf(pid: number): string {
  return read(`/proc/${pid}/comm`).trim();
}
