/** What a benchmarked system is: how to start it in front of the fixture upstream, and how to address it. */
import type { Child } from '../lib/child.js';

export interface StartContext {
  /** The fixture upstream's OpenAI base URL, e.g. http://127.0.0.1:PORT/v1. */
  upstreamBaseURL: string;
  /** A scratch directory for generated configs. */
  workDir: string;
  /** CPU to pin the system to, when pinning is possible. */
  cpu?: number;
  /** Repository root, for the paths of installed peers. */
  root: string;
}

export interface Running {
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** The `model` field this system needs to reach the fixture. */
  model: string;
  /** The process under test, for memory readings; none for the direct baseline. */
  child?: Child;
  /** Version or build that was measured, for the report. */
  version: string;
  stop(): Promise<void>;
}

export interface System {
  id: string;
  label: string;
  start(ctx: StartContext): Promise<Running>;
}
