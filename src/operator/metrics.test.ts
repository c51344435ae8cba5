import { describe, expect, it } from 'vitest';
import { operatorMetrics } from './metrics.js';

describe('operatorMetrics', () => {
  it('has every usage batch result from the start, at 0', async () => {
    const text = await operatorMetrics().registry.metrics();
    for (const result of ['ok', 'rejected', 'error'])
      expect(text).toContain(`tiermesh_operator_usage_batches_total{result="${result}"} 0`);
  });
});
