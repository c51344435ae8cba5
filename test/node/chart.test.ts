/** The chart's user journey (chart-journey.ts) on the real test node; figures go to docs/testing.md. */
import { chartJourney } from './chart-journey.js';
import { nodeSkip, realNode } from './real-node.js';

chartJourney({ skip: nodeSkip(), cluster: realNode });
