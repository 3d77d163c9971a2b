import { describe, expect, it } from 'vitest';
import { retryDue } from './retry';

describe('automatic retry of failed pushes', () => {
  const now = new Date(Date.UTC(2026, 11, 5, 10, 0, 0));
  it('runs when the next try is due, not before, and not without a failed push', () => {
    expect(retryDue('2026-12-05 09:59:59.000', now)).toBe(true);
    expect(retryDue('2026-12-05 10:00:00.000', now)).toBe(true);
    expect(retryDue('2026-12-05 10:00:01.500', now)).toBe(false);
    expect(retryDue(null, now)).toBe(false);
    expect(retryDue('not a time', now)).toBe(false);
  });
});
