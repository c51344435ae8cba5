/** The chart's user journey (test/node/chart-journey.ts) on a kind cluster: `make e2e-kind` (scripts/e2e-kind.sh). */
import { chartJourney } from '../node/chart-journey.js';
import { kindCluster, kindSkip } from './kind-cluster.js';

const skip = kindSkip();
if (skip) console.log(`kind e2e skipped: ${skip}`);
chartJourney({ skip, cluster: kindCluster });
