import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseChildren, parseProcStatus, parseStatTicks, treeCpuTicks, treeMemory } from './procstat.js';

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t 1180340 kB
VmSize:\t 1116084 kB
VmHWM:\t   61304 kB
VmRSS:\t   58012 kB
RssAnon:\t   20344 kB
Threads:\t7
`;

describe('parseProcStatus', () => {
  it('reads the resident set and its high-water mark in KiB', () => {
    expect(parseProcStatus(STATUS)).toEqual({ rssKiB: 58012, hwmKiB: 61304 });
  });

  it('does not mistake RssAnon for VmRSS, and is 0 when the fields are absent', () => {
    expect(parseProcStatus('Name:\tkthreadd\nRssAnon:\t 5 kB\n')).toEqual({ rssKiB: 0, hwmKiB: 0 });
  });
});

describe('parseChildren', () => {
  it('joins the children of every thread, once each', () => {
    expect(parseChildren(['12 13 ', '', '13 20\n'])).toEqual([12, 13, 20]);
  });
});

describe('treeMemory', () => {
  it('counts a live child process and is undefined for a pid that does not exist', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const own = treeMemory(process.pid)!;
      expect(own.processes).toBeGreaterThanOrEqual(2);
      expect(own.rssKiB).toBeGreaterThan(treeMemory(child.pid!)!.rssKiB);
      expect(own.hwmKiB).toBeGreaterThanOrEqual(own.rssKiB);
    } finally {
      child.kill();
    }
    expect(treeMemory(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('parseStatTicks', () => {
  it('adds utime and stime, even when the command name has spaces and parens', () => {
    const stat = '4242 (my (odd) proc) S 1 4242 4242 0 -1 4194304 1000 0 0 0 731 112 0 0 20 0 7 0 100 0 0';
    expect(parseStatTicks(stat)).toBe(843);
  });

  it('grows while a process burns CPU', () => {
    const before = treeCpuTicks(process.pid);
    const until = Date.now() + 120;
    while (Date.now() < until) Math.sqrt(Math.random());
    expect(treeCpuTicks(process.pid)).toBeGreaterThan(before);
  });
});
