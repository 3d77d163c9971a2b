import { describe, expect, it } from 'vitest';
import { fmtTime, fmtValue, niceMax, scale, ticks } from './chart';

const box = { width: 200, height: 100, left: 40, right: 10, top: 10, bottom: 20 };

describe('chart', () => {
  it('rounds the axis up to a nice number', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(-3)).toBe(1);
    expect(niceMax(NaN)).toBe(1);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(1.2)).toBe(2);
    expect(niceMax(2.2)).toBe(2.5);
    expect(niceMax(37)).toBe(50);
    expect(niceMax(0.031)).toBeCloseTo(0.05);
    expect(niceMax(700)).toBe(1000);
    expect(ticks(50)).toEqual([0, 12.5, 25, 37.5, 50]);
  });

  it('scales points into the box, time left to right, values bottom to top', () => {
    const s = scale([{ name: 'a', points: [{ t: 110, v: 5 }, { t: 100, v: 0 }, { t: 120, v: 10 }] }], 100, 120, box);
    expect(s.yMax).toBe(10);
    expect(s.empty).toBe(false);
    const l = s.lines[0];
    expect(l.points).toBe(3);
    expect(l.last).toBe(10);
    // sorted by time; plot area x 40..190, y 10..80
    expect(l.d).toBe('M40.0,80.0 L115.0,45.0 L190.0,10.0');
    expect(s.xTicks[0]).toEqual({ t: 100, x: 40 });
    expect(s.xTicks[4]).toEqual({ t: 120, x: 190 });
  });

  it('shares one y axis across series, clamps out-of-window points, drops non-finite ones', () => {
    const s = scale([
      { name: 'a', points: [{ t: 90, v: 1 }, { t: 100, v: Infinity }] },
      { name: 'b', points: [{ t: 130, v: 4 }] },
      { name: 'c', points: [] },
    ], 100, 120, box);
    expect(s.yMax).toBe(5);
    expect(s.lines[0].points).toBe(1);
    expect(s.lines[0].d).toBe('M40.0,66.0');
    expect(s.lines[1].d).toBe('M190.0,24.0');
    expect(s.lines[2]).toMatchObject({ points: 0, d: '', last: null });
    expect(s.lines.map((l) => l.color)).toHaveLength(3);
    expect(new Set(s.lines.map((l) => l.color)).size).toBe(3);
    expect(scale([{ name: 'x', points: [] }], 0, 0, box).empty).toBe(true);
  });

  it('labels values and times', () => {
    expect(fmtValue(0.25, 's')).toBe('250 ms');
    expect(fmtValue(0.0000123, 's')).toBe('12 µs');
    expect(fmtValue(2.5, 's')).toBe('2.5 s');
    expect(fmtValue(1500, 'tx/s')).toBe('1.5k tx/s');
    expect(fmtValue(12, 'connections')).toBe('12 connections');
    expect(fmtValue(1, 'bool')).toBe('1');
    expect(fmtValue(null, 's')).toBe('—');
    expect(fmtTime(Date.UTC(2026, 10, 26, 9, 5) / 1000, 3600)).toBe('09:05');
    expect(fmtTime(Date.UTC(2026, 10, 26, 9, 5) / 1000, 2 * 86400)).toBe('11-26 09:05');
  });
});
