import { describe, expect, it } from 'vitest';
import { consentRows, newestFirst } from './consents';
import type { ConsentView } from './bindings/gdpr/ConsentView';

const rec = (id: string, purpose: string, granted: boolean, at: string, source: string | null) => ({
  id, purpose, granted, source, created_at: at, recorded_by: null,
  granted_at: granted ? at : '2026-01-01T00:00:00', withdrawn_at: granted ? null : at,
});

const view: ConsentView = {
  user_id: 'u', changed: true,
  current: [
    { purpose: 'analytics', granted: true, at: '2026-01-02T00:00:00' },
    { purpose: 'marketing.email', granted: false, at: '2026-01-03T00:00:00' },
  ],
  history: [
    rec('1', 'marketing.email', true, '2026-01-01T00:00:00', 'signup form'),
    rec('2', 'analytics', true, '2026-01-02T00:00:00', null),
    rec('3', 'marketing.email', false, '2026-01-03T00:00:00', 'ncy-admin'),
  ],
};

describe('consentRows', () => {
  it('keeps the current state and takes the source of the latest record per purpose', () => {
    expect(consentRows(view)).toEqual([
      { purpose: 'analytics', granted: true, at: '2026-01-02T00:00:00', source: null },
      { purpose: 'marketing.email', granted: false, at: '2026-01-03T00:00:00', source: 'ncy-admin' },
    ]);
  });
  it('is empty without a view', () => {
    expect(consentRows(null)).toEqual([]);
  });
});

describe('newestFirst', () => {
  it('reverses the history without touching the view', () => {
    expect(newestFirst(view).map((r) => r.id)).toEqual(['3', '2', '1']);
    expect(view.history[0].id).toBe('1');
    expect(newestFirst(undefined)).toEqual([]);
  });
});
