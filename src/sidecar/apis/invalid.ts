/** The 400 an inbound API adapter answers a body it cannot translate with. */
import { TiermeshError } from '../../errors.js';

/** Puts one of the client's own values (a block type, a tool or item name) into a message. */
export type Quote = (value: string) => string;

const shown: Quote = (v) => `"${v}"`;
const hidden: Quote = () => '"…"';

/**
 * A 400 naming `param`. The message is written with `quote` around every value the client sent: the client's answer
 * shows the value, the log line only `"…"` (log lines hold no client text; masking quotes in a finished message could
 * be defeated by a value that holds quotes itself).
 */
export function invalid(param: string, message: string | ((quote: Quote) => string)): TiermeshError {
  const text = (q: Quote) => (typeof message === 'string' ? message : message(q));
  return new TiermeshError('TM_INVALID_REQUEST', `${param}: ${text(shown)}`, {
    param,
    logMessage: `${param}: ${text(hidden)}`,
  });
}
