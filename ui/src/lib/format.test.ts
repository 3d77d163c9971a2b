import { describe, expect, it } from 'vitest';
import { ago, fmtDate, label, num, parseUtc } from './format';

describe('format', () => {
  it('reads the core timestamps as UTC', () => {
    expect(parseUtc('2026-11-26 07:36:35.123')?.toISOString()).toBe('2026-11-26T07:36:35.123Z');
    expect(parseUtc('2026-11-26T07:36:35')?.toISOString()).toBe('2026-11-26T07:36:35.000Z');
    expect(parseUtc('nonsense')).toBeNull();
    expect(fmtDate(null)).toBe('—');
    expect(fmtDate('2026-11-26T07:36:35')).toBe('2026-11-26 07:36');
  });
  it('says how long ago or how far ahead', () => {
    const now = new Date('2026-11-26T12:00:00Z');
    expect(ago('2026-11-26T11:59:30', now)).toBe('30 s ago');
    expect(ago('2026-11-26T09:00:00', now)).toBe('3 h ago');
    expect(ago('2026-12-01T12:00:00', now)).toBe('in 5 d');
  });
  it('formats counts and enum labels', () => {
    expect(num(1234567)).toBe('1,234,567');
    expect(num(null)).toBe('—');
    expect(label('IN_PROGRESS')).toBe('In progress');
  });
});
