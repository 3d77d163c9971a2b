import { describe, expect, it } from 'vitest';
import { pct } from './progress';

describe('pct', () => {
  it('is 0 for an unknown total and capped at 100', () => {
    expect(pct(5, 0)).toBe(0);
    expect(pct(1, 4)).toBe(25);
    expect(pct(9, 4)).toBe(100);
  });
});
