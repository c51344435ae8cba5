/** Server-sent events: an incremental parser that accepts bytes cut anywhere, and the writer helpers we send with. */

export interface SseEvent {
  /** The `event:` field; undefined means the default "message" event. */
  event: string | undefined;
  /** All `data:` lines of the event joined with "\n". */
  data: string;
  id: string | undefined;
}

/**
 * Feed it byte or string chunks as they arrive; it returns every event completed so far.
 * Follows the WHATWG parsing rules: LF, CRLF or CR line ends (a CRLF may be split between chunks),
 * `:` comment lines ignored, one optional space after the colon stripped, multi-line data joined.
 */
export class SseParser {
  /** A line longer than this is garbage (or an attack), not an event: push() throws SseLineTooLongError. */
  constructor(private readonly maxLineLength = 4 * 1024 * 1024) {}

  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** A chunk ended in CR: if the next one starts with LF, that LF belongs to the same line end. */
  private pendingCR = false;
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;

  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    if (this.buffer.length > this.maxLineLength) throw new SseLineTooLongError(this.maxLineLength);
    return out;
  }

  /** End of input: an event without its terminating blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    const rest = this.decoder.decode();
    const events = rest ? this.push(rest) : [];
    this.buffer = '';
    this.data = [];
    this.event = undefined;
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = undefined;
        return undefined;
      }
      const ev: SseEvent = { event: this.event, data: this.data.join('\n'), id: this.id };
      this.data = [];
      this.event = undefined;
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return undefined;
  }
}

export class SseLineTooLongError extends Error {
  constructor(limit: number) {
    super(`SSE line longer than ${limit} characters`);
    this.name = 'SseLineTooLongError';
  }
}

/** `data: <json>\n\n`, the OpenAI chunk framing. */
export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** `event: <name>\n[id: <id>\n]data: <json>\n\n`: the Anthropic framing, and the operator's config stream (with ids). */
export function sseEvent(event: string, payload: unknown, id?: string): string {
  return `event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(payload)}\n\n`;
}

/** The content type of every event stream we serve. */
export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

/** The terminator OpenAI sends after the last chunk. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** A keep-alive comment line; clients ignore it. */
export const SSE_COMMENT_PING = ': ping\n\n';
