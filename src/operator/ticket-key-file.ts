/** The ticket key file (--ticket-key-file), re-read while the operator runs: a Secret update rotates the key. */
import { readFile } from 'node:fs/promises';
import { ticketKeyFromSecret } from './tickets.js';

/**
 * Reads `file` and hands its ticket key to `use`. A file that cannot be read or holds no usable key (too short, a
 * half-written update) is one `warn` and the last good key stays: never a rejection, which would end the process
 * (an unhandled rejection exits) and, with the same Secret mounted everywhere, every replica at once. The warning
 * names the problem only, never the file's contents.
 */
export function reloadTicketKey(
  file: string,
  use: (key: Buffer) => void,
  warn: (err: string) => void,
): Promise<void> {
  return readFile(file)
    .then(ticketKeyFromSecret)
    .then(
      (key) => {
        use(key);
      },
      (e: unknown) => {
        warn(e instanceof Error ? e.message : String(e));
      },
    );
}
