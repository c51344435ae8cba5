import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reloadTicketKey } from './ticket-key-file.js';
import { ticketKeyFromSecret } from './tickets.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('reloadTicketKey', () => {
  it('uses a good key; a bad or missing file is one warning without its contents, and resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-tk-'));
    dirs.push(dir);
    const file = join(dir, 'key');
    const used: Buffer[] = [];
    const warned: string[] = [];
    const use = (k: Buffer) => used.push(k);
    const warn = (e: string) => warned.push(e);

    const good = 'g'.repeat(40);
    writeFileSync(file, good);
    await reloadTicketKey(file, use, warn);
    expect(used).toHaveLength(1);
    expect(used[0]!.equals(ticketKeyFromSecret(Buffer.from(good)))).toBe(true);

    // A half-written Secret update: too short. Not a rejection (an unhandled one would end the operator).
    const short = 'too-short-secret-value';
    writeFileSync(file, short);
    await expect(reloadTicketKey(file, use, warn)).resolves.toBeUndefined();
    rmSync(file);
    await expect(reloadTicketKey(file, use, warn)).resolves.toBeUndefined();
    expect(used).toHaveLength(1);
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatch(/at least 32 bytes/);
    expect(warned.join(' ')).not.toContain(short);
  });
});
