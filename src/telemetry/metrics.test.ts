import { describe, expect, it } from 'vitest';
import { declaredLabel, SidecarMetrics } from './metrics.js';

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
    a.breakerState({ route: 'r', provider: 'p', model: 'm' }, 'open');
    a.breakerState({ route: 'r', provider: 'q', model: 'm' }, 'half-open');
    // Another route's provider of the same name and model is another breaker, with a series of its own.
    a.breakerState({ route: 's', provider: 'p', model: 'm' }, 'closed');
    const { body } = await a.text();
    expect(body).toContain('tiermesh_breaker_state{route="r",provider="p",model="m"} 2');
    expect(body).toContain('tiermesh_breaker_state{route="r",provider="q",model="m"} 1');
    expect(body).toContain('tiermesh_breaker_state{route="s",provider="p",model="m"} 0');
    a.breakerRemoved({ route: 's', provider: 'p', model: 'm' });
    const after = (await a.text()).body;
    expect(after).not.toContain('route="s"');
    expect(after).toContain('tiermesh_breaker_state{route="r",provider="p",model="m"} 2');
    expect((await b.text()).body).not.toContain('provider="p"');
  });

  it('counts fallbacks by route: routes naming a provider alike are counted apart', async () => {
    const m = new SidecarMetrics();
    m.fallback('r', 'p', 'server_error');
    m.fallback('r', 'p', 'server_error');
    m.fallback('s', 'p', 'server_error');
    const { body } = await m.text();
    expect(body).toContain('tiermesh_fallbacks_total{route="r",from_provider="p",reason="server_error"} 2');
    expect(body).toContain('tiermesh_fallbacks_total{route="s",from_provider="p",reason="server_error"} 1');
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

describe('review metric', () => {
  it('counts flagged answers by route and task', async () => {
    const m = new SidecarMetrics();
    m.reviewRequired('r', 'legal');
    m.reviewRequired('r', 'legal');
    m.reviewRequired('q', 'medical');
    const { body } = await m.text();
    expect(body).toContain('tiermesh_review_required_total{route="r",task="legal"} 2');
    expect(body).toContain('tiermesh_review_required_total{route="q",task="medical"} 1');
  });
});

describe('queue metrics', () => {
  it('exports depth, wait time and rejections per lane and priority', async () => {
    const m = new SidecarMetrics();
    const lane = { route: 'r', provider: 'groq', model: 'small' };
    m.queueDepth(lane, 'batch', 3);
    m.queueDepth(lane, 'batch', 2);
    m.queueWait(lane, 'interactive', 0.2);
    m.queueRejected(lane, 'batch', 'timeout');
    const { body } = await m.text();
    expect(body).toContain(
      'tiermesh_queue_depth{route="r",provider="groq",model="small",priority="batch"} 2',
    );
    expect(body).toContain(
      'tiermesh_queue_wait_seconds_bucket{le="0.25",route="r",provider="groq",model="small",priority="interactive"} 1',
    );
    expect(body).toContain(
      'tiermesh_queue_rejected_total{route="r",provider="groq",model="small",priority="batch",reason="timeout"} 1',
    );
  });
});

describe('routing-quality metrics', () => {
  it('counts escalations by the tier they left and why', async () => {
    const m = new SidecarMetrics();
    m.escalated('r', 'cheap', 'premium', 'refusal');
    m.escalated('r', 'cheap', 'premium', 'refusal');
    m.escalated('r', 'cheap', 'premium', 'feedback-retry');
    const { body } = await m.text();
    expect(body).toContain(
      'tiermesh_escalations_total{route="r",from_tier="cheap",to_tier="premium",reason="refusal"} 2',
    );
    expect(body).toContain('reason="feedback-retry"} 1');
  });

  it('counts feedback by kind and puts scores in the histogram', async () => {
    const m = new SidecarMetrics();
    m.feedback('r', 'cheap', 'mini', 'down', 0);
    m.feedback('r', 'cheap', 'mini', 'score', 0.35);
    const { body } = await m.text();
    expect(body).toContain('tiermesh_feedback_total{route="r",tier="cheap",model="mini",kind="down"} 1');
    expect(body).toContain('tiermesh_feedback_score_bucket{le="0",route="r",tier="cheap",model="mini"} 1');
    expect(body).toContain('tiermesh_feedback_score_bucket{le="0.4",route="r",tier="cheap",model="mini"} 2');
    expect(body).toContain('tiermesh_feedback_score_sum{route="r",tier="cheap",model="mini"} 0.35');
  });

  it('allocates spend by task and feature, skipping zero cost', async () => {
    const m = new SidecarMetrics();
    m.allocated('r', 'extraction', 'search', 0.002);
    m.allocated('r', 'extraction', 'other', 0.001);
    m.allocated('r', 'none', 'none', 0);
    const { body } = await m.text();
    expect(body).toContain('tiermesh_task_cost_usd_total{route="r",task="extraction"} 0.003');
    expect(body).toContain('tiermesh_feature_cost_usd_total{route="r",feature="search"} 0.002');
    expect(body).not.toContain('task="none"');
  });
});

describe('routeTargets', () => {
  it('exports each route threshold and forgets routes no longer configured', async () => {
    const m = new SidecarMetrics();
    m.routeTargets([
      { route: 'a', maxEscalationRate: 0.1 },
      { route: 'b', maxEscalationRate: 0.25 },
    ]);
    m.routeTargets([{ route: 'b', maxEscalationRate: 0.3, calibrationOffset: 0.04 }]);
    const { body } = await m.text();
    expect(body).toContain('tiermesh_route_max_escalation_rate{route="b"} 0.3');
    expect(body).toContain('tiermesh_route_premium_share_offset{route="b"} 0.04');
    expect(body).not.toContain('route="a"');
  });

  it('exports budget limits beside what remains, replacing the old set', async () => {
    const m = new SidecarMetrics();
    m.budgetLimits([{ budget: 'old', limitUSD: 5 }]);
    m.budgetLimits([{ budget: 'team', limitUSD: 100 }]);
    const { body } = await m.text();
    expect(body).toContain('tiermesh_budget_limit_usd{budget="team"} 100');
    expect(body).not.toContain('budget="old"');
  });
});

describe('declaredLabel', () => {
  it('passes declared values, folds the rest into "other" and absence into "none"', () => {
    expect(declaredLabel('search', ['search', 'chat'])).toBe('search');
    expect(declaredLabel('user-42-secret', ['search'])).toBe('other');
    expect(declaredLabel('search', undefined)).toBe('other');
    expect(declaredLabel(undefined, ['search'])).toBe('none');
  });
});
