/** The systems `make bench` compares, in report order: baseline, floor, tiermesh, then the peer gateways. */
import { bare } from './bare.js';
import { direct } from './direct.js';
import { litellm } from './litellm.js';
import { portkey } from './portkey.js';
import { tiermesh } from './tiermesh.js';
import type { System } from './types.js';

export const systems: readonly System[] = [direct, bare, tiermesh, portkey, litellm];
