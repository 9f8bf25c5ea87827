import { describe, expect, it } from 'vitest';
import { escapeXml, formatTick, linearTicks, logTicks, renderChart } from './svg-chart';

describe('ticks', () => {
  it('linear ticks are round 1-2-5 steps covering the range', () => {
    expect(linearTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0.13, 0.92)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(-3, 7, 5)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(linearTicks(0, 2400)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(linearTicks(5, 5)).toEqual([5]);
  });

  it('log ticks use decades, then 1-2-5, then 1..9 multiples as the range narrows', () => {
    expect(logTicks(0.001, 100)).toEqual([0.001, 0.01, 0.1, 1, 10, 100]);
    expect(logTicks(1.5, 40)).toEqual([2, 5, 10, 20]);
    expect(logTicks(2.2, 8.5)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('formats tick labels compactly', () => {
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(2500)).toBe('2500');
    expect(formatTick(1e-5)).toBe('1e-5');
    expect(formatTick(250000)).toBe('2.5e5');
    expect(formatTick(0)).toBe('0');
  });
});

describe('renderChart', () => {
  const spec = {
    id: 'a',
    title: 'Loss <BN & GN>',
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { label: 'BN', points: [[0, 2], [1, 1], [2, Number.NaN], [3, 0.5], [4, 0.4]] as Array<[number, number]> },
      { label: 'GN', points: [[0, 2.2], [4, 0.3]] as Array<[number, number]>, style: 'points' as const },
    ],
    guides: [{ y: 1.5, label: 'threshold' }],
  };

  it('draws lines split at undrawable points, dots, guides, axis labels and a legend, escaping text', () => {
    const svg = renderChart(spec);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2); // [0, 1] and [3, 4]: the NaN splits the line
    expect(svg.match(/<circle /g)).toHaveLength(2 + 1); // GN's two dots + its legend marker
    expect(svg).toContain('Loss &lt;BN &amp; GN&gt;');
    expect(svg).not.toContain('<BN');
    expect(svg).toContain('>threshold</text>');
    expect(svg).toContain('>step</text>');
    expect(svg).toContain('>BN</text>');
    expect(svg).toContain('>GN</text>');
  });

  it('maps values to pixels: the first point of a series sits at the left edge of the axis range', () => {
    const svg = renderChart({ id: 'b', title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 's', points: [[0, 0], [10, 1]] }] }, { width: 560, height: 300 });
    // Plot area: x from 62 to 542, y from 34 (top) to 254 (bottom); x ticks 0..10, y ticks 0..1.
    expect(svg).toContain('points="62,254 542,34"');
  });

  it('pads a linear axis instead of stretching it to a far round number', () => {
    const svg = renderChart({ id: 'g', title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 's', points: [[4000, 0.2], [16000, 0.93]] }] });
    for (const tick of ['5000', '10000', '15000', '0.2', '1']) expect(svg).toContain(`>${tick}</text>`);
    expect(svg).not.toContain('>20000</text>');
    expect(svg).not.toMatch(/>0<\/text>/);
  });

  it('log scales skip non-positive values and say so when nothing can be drawn', () => {
    const svg = renderChart({ id: 'c', title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log', series: [{ label: 's', points: [[0, 0], [1, 10], [2, 100]] }] });
    expect(svg).toContain('(log scale)');
    expect(svg.match(/<polyline points="([^"]+)"/)![1]!.split(' ')).toHaveLength(2);
    const empty = renderChart({ id: 'd', title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log', series: [{ label: 's', points: [[0, -1]] }] });
    expect(empty).toContain('no data to draw');
  });

  it('uses given x ticks, a fixed y range, and an equal aspect for point clouds', () => {
    const svg = renderChart({ id: 'e', title: 't', xLabel: 'batch', yLabel: 'acc', xScale: 'log', xTicks: [2, 4, 8, 16, 32], yRange: [0, 1], series: [{ label: 's', points: [[2, 0.5], [32, 0.9]] }] });
    for (const tick of ['2', '4', '8', '16', '32']) expect(svg).toContain(`>${tick}</text>`);
    expect(svg).toContain('>0</text>');
    expect(svg).toContain('>1</text>');
    const cloud = renderChart({ id: 'f', title: 't', xLabel: 'x', yLabel: 'y', equalAspect: true, series: [{ label: 's', style: 'points', points: [[-1, -1], [1, 1]] }] }, { width: 580, height: 300 });
    // Plot 500 x 220 px: the x range widens so one unit spans the same pixels on both axes.
    const [a, b] = [...cloud.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="2.8"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(Math.abs(b![0]! - a![0]!)).toBeCloseTo(Math.abs(b![1]! - a![1]!), 0);
  });

  it('escapeXml covers the five special characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
