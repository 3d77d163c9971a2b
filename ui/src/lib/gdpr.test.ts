import { describe, expect, it } from 'vitest';
import { confirms, dueDate } from './gdpr';

const utc = (s: string) => new Date(s + 'Z');

describe('dueDate', () => {
  it('adds one calendar month', () => {
    expect(dueDate(utc('2025-03-15T09:00:00')).toISOString()).toBe('2025-04-15T09:00:00.000Z');
  });
  it('clamps to the end of a shorter month (leap years too)', () => {
    expect(dueDate(utc('2025-01-31T10:00:00')).toISOString()).toBe('2025-02-28T10:00:00.000Z');
    expect(dueDate(utc('2024-01-31T10:00:00')).toISOString()).toBe('2024-02-29T10:00:00.000Z');
  });
  it('crosses the year', () => {
    expect(dueDate(utc('2025-12-31T00:00:00')).toISOString()).toBe('2026-01-31T00:00:00.000Z');
  });
});

describe('confirms', () => {
  it('needs the exact email, ignoring case and surrounding spaces', () => {
    expect(confirms(' Alice@Example.com ', 'alice@example.com')).toBe(true);
    expect(confirms('alice@example.co', 'alice@example.com')).toBe(false);
    expect(confirms('', '')).toBe(false);
    expect(confirms('x', null)).toBe(false);
  });
});
