import type { Chart } from "./reports.registry";

/**
 * A small SVG chart renderer for report emails: one series as bars or a line, with axes, a few y ticks, x labels (every
 * label when they fit, else evenly thinned) and a title. Text is escaped, so a series or label naming `<script>` stays
 * text; the output is a standalone, well-formed XML document fragment with the SVG namespace.
 */

const WIDTH = 640;
const HEIGHT = 260;
const MARGIN = { top: 32, right: 16, bottom: 48, left: 48 };
const COLOR = "#3b6fd8";

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`);
}

/** Round tick values: 0 and up to 4 steps of 1, 2 or 5 × 10^n covering the maximum. */
function ticks(max: number): number[] {
  if (max <= 0) return [0, 1];
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= rough) ?? 10) * magnitude;
  const values: number[] = [];
  for (let v = 0; v < max + step; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

export function renderChart(chart: Chart): string {
  const points = chart.series.points;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const yTicks = ticks(Math.max(0, ...points.map((p) => p.y)));
  const yMax = yTicks.at(-1) ?? 1;
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const slot = plotW / Math.max(points.length, 1);
  const x = (i: number) => MARGIN.left + slot * i + slot / 2;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<text x="${MARGIN.left}" y="20" font-family="sans-serif" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const tick of yTicks) {
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y(tick)}" x2="${WIDTH - MARGIN.right}" y2="${y(tick)}" stroke="#e0e0e0"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" font-family="sans-serif" font-size="10" text-anchor="end">${fmt(tick)}</text>`,
    );
  }
  // axes over the grid
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${WIDTH - MARGIN.right}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
  );
  if (chart.kind === "bar") {
    const barW = Math.max(1, slot * 0.7);
    points.forEach((p, i) => {
      const top = y(p.y);
      parts.push(
        `<rect x="${(x(i) - barW / 2).toFixed(2)}" y="${top.toFixed(2)}" width="${barW.toFixed(2)}" height="${(MARGIN.top + plotH - top).toFixed(2)}" fill="${COLOR}"><title>${escapeXml(`${p.x}: ${fmt(p.y)}`)}</title></rect>`,
      );
    });
  } else if (points.length > 0) {
    const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(2)},${y(p.y).toFixed(2)}`).join(" ");
    parts.push(`<path d="${path}" fill="none" stroke="${COLOR}" stroke-width="2"/>`);
    points.forEach((p, i) => {
      parts.push(
        `<circle cx="${x(i).toFixed(2)}" cy="${y(p.y).toFixed(2)}" r="2.5" fill="${COLOR}"><title>${escapeXml(`${p.x}: ${fmt(p.y)}`)}</title></circle>`,
      );
    });
  }
  // at most ~12 x labels: every nth, so long periods stay readable
  const every = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, i) => {
    if (i % every !== 0) return;
    parts.push(
      `<text x="${x(i).toFixed(2)}" y="${MARGIN.top + plotH + 16}" font-family="sans-serif" font-size="10" text-anchor="middle">${escapeXml(p.x)}</text>`,
    );
  });
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" font-family="sans-serif" font-size="11" text-anchor="middle">${escapeXml(chart.series.name)}</text>`,
    "</svg>",
  );
  return parts.join("");
}
