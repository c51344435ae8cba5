/** The systems `make bench` compares, in report order: baseline, floor, tiermesh, then the peer gateways (compiled first). */
import { bare } from './bare.js';
import { direct } from './direct.js';
import { litellm } from './litellm.js';
import { noveum } from './noveum.js';
import { portkey } from './portkey.js';
import { tiermesh } from './tiermesh.js';
import type { System } from './types.js';

export const systems: readonly System[] = [direct, bare, tiermesh, noveum, portkey, litellm];
