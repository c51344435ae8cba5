import { describe, expect, it } from 'vitest';
import { SidecarMetrics } from './metrics.js';

describe('SidecarMetrics', () => {
  it('keeps exactly one config version series', async () => {
    const m = new SidecarMetrics();
    m.config('v1');
    m.config('v2');
    const { body } = await m.text();
    expect(body).toContain('tiermesh_config_version_info{version="v2"} 1');
    expect(body).not.toContain('version="v1"');
  });

  it('counts only positive savings and skips zero token directions', async () => {
    const m = new SidecarMetrics();
    m.usage('r', 'cheap', 10, 0, 0.001, 0.004);
    m.usage('r', 'pricey', 10, 5, 0.01, -0.002);
    const { body } = await m.text();
    expect(body).toContain('tiermesh_cost_saved_usd_total{route="r"} 0.004');
    expect(body).toContain('tiermesh_tokens_total{model="cheap",direction="input"} 10');
    expect(body).not.toContain('tiermesh_tokens_total{model="cheap",direction="output"}');
    expect(body).toContain('tiermesh_cost_usd_total{route="r",model="pricey"} 0.01');
  });

  it('encodes breaker states as 0/1/2 and uses its own registry', async () => {
    const a = new SidecarMetrics();
    const b = new SidecarMetrics();
    a.breakerState('p', 'm', 'open');
    a.breakerState('q', 'm', 'half-open');
    const { body } = await a.text();
    expect(body).toContain('tiermesh_breaker_state{provider="p",model="m"} 2');
    expect(body).toContain('tiermesh_breaker_state{provider="q",model="m"} 1');
    expect((await b.text()).body).not.toContain('provider="p"');
  });

  it('counts promotions by route, from and to tier, and reason', async () => {
    const m = new SidecarMetrics();
    m.promotion('r', 'cheap', 'standard', 'connection');
    m.promotion('r', 'cheap', 'standard', 'connection');
    m.promotion('r', 'standard', 'cheap', 'breaker_open');
    const { body } = await m.text();
    expect(body).toContain(
      'tiermesh_promotions_total{route="r",from="cheap",to="standard",reason="connection"} 2',
    );
    expect(body).toContain(
      'tiermesh_promotions_total{route="r",from="standard",to="cheap",reason="breaker_open"} 1',
    );
  });

  it('counts cascade escalations by check and judge outcomes', async () => {
    const m = new SidecarMetrics();
    m.escalation('r', 'cheap', 'hedging');
    m.escalation('r', 'cheap', 'logprobs');
    m.escalation('r', 'cheap', 'logprobs');
    m.judge('r', 'timeout');
    const { body } = await m.text();
    expect(body).toContain('tiermesh_cascade_escalations_total{route="r",tier="cheap",check="logprobs"} 2');
    expect(body).toContain('tiermesh_cascade_escalations_total{route="r",tier="cheap",check="hedging"} 1');
    expect(body).toContain('tiermesh_judge_checks_total{route="r",outcome="timeout"} 1');
  });
});
