import { describe, expect, it } from 'vitest';
import type { MigrationStatus, Setting } from './api';
import { changed, draftOf, effective, rangeHint, schemaSummary } from './settings';

const known = (value: Setting['value']): Setting => ({ key: 'auth.lockout.minutes', value, description: 'minutes an account stays locked', min: 1, max: 1440, default: 15 });
const other = (value: Setting['value']): Setting => ({ key: 'ui.banner', value, description: null, min: null, max: null, default: null });

describe('settings', () => {
  it('shows the default while a known setting is unset', () => {
    expect(draftOf(known(null))).toBe('');
    expect(effective(known(null))).toBe('15 (default)');
    expect(effective(known(30))).toBe('30');
    expect(effective(other(null))).toBe('unset');
    expect(effective(other('hello'))).toBe('hello');
    expect(draftOf(other({ a: 1 }))).toBe('{"a":1}');
  });

  it('gives the range and default of known settings only', () => {
    expect(rangeHint(known(null))).toBe('1–1440 · default 15');
    expect(rangeHint(other(null))).toBe('');
  });

  it('counts a draft as a change only when it differs from the stored value', () => {
    expect(changed(known(30), '30')).toBe(false);
    expect(changed(known(30), ' 45 ')).toBe(true);
    expect(changed(known(null), '')).toBe(false);
    expect(changed(known(null), '15')).toBe(true);
  });
});

describe('schemaSummary', () => {
  const m = (version: number, state: MigrationStatus['state']): MigrationStatus => ({ version, name: `m${version}`, state, applied_at: null, checksum: '' });
  it('says up to date with the last migration, and counts adopted ones', () => {
    expect(schemaSummary([m(1, 'applied'), m(2, 'applied')])).toEqual({ label: 'up to date: 2 migrations applied, last 0002_m2', tone: 'ok' });
    expect(schemaSummary([m(1, 'baselined'), m(2, 'applied')]).label).toMatch(/1 adopted from the platform/);
  });
  it('flags pending and edited migrations', () => {
    expect(schemaSummary([m(1, 'applied'), m(2, 'pending')])).toEqual({ label: '1 of 2 migrations pending: run ncy-admin migrate up', tone: 'warn' });
    expect(schemaSummary([m(1, 'drifted'), m(2, 'pending')]).tone).toBe('bad');
  });
});
