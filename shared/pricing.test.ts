import { describe, expect, it } from 'vitest';
import { estimateCost, PRICE_TABLE, priceOf } from './pricing.js';

describe('price table', () => {
  it('is dated', () => {
    expect(PRICE_TABLE.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('charges cached input at the cached price and does not add reasoning tokens again', () => {
    // gpt-4o-mini: 0.15 in, 0.075 cached, 0.60 out per 1M
    const cost = estimateCost('gpt-4o-mini', { input: 2000, cached: 1024, output: 500, reasoning: 300 });
    expect(cost).toBeCloseTo((976 * 0.15 + 1024 * 0.075 + 500 * 0.6) / 1e6, 15);
  });

  it('prices dated snapshots as their model, and unknown models not at all', () => {
    expect(priceOf('gpt-4o-mini-2024-07-18')).toEqual(PRICE_TABLE.models['gpt-4o-mini']);
    expect(estimateCost('my-finetune', { input: 10, output: 10 })).toBeUndefined();
    expect(estimateCost(undefined, { input: 10 })).toBeUndefined();
  });

  it('has no cost without token counts, and a real zero for free models', () => {
    expect(estimateCost('gpt-4o', {})).toBeUndefined();
    expect(estimateCost('omni-moderation-latest', { input: 12 })).toBe(0);
  });

  it('halves batch calls and never counts more cached than input', () => {
    expect(estimateCost('gpt-4o', { input: 1_000_000, output: 0 }, { batch: true })).toBeCloseTo(1.25, 10);
    expect(estimateCost('gpt-4o', { input: 100, cached: 500 })).toBeCloseTo((100 * 1.25) / 1e6, 15);
  });
});
