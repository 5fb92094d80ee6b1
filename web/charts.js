// The two charts of the page, drawn as SVG from a /stats/timeline answer: events per bucket
// stacked by type, and cost per bucket. Plain DOM calls, no library; text is set with
// textContent only, so event types can never inject markup.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 52 };

// One colour per documented type, readable on light and dark backgrounds.
const PALETTE = {
  'agent:start': '#60a5fa',
  'agent:complete': '#2563eb',
  'agent:error': '#dc2626',
  'swarm:start': '#a78bfa',
  'swarm:complete': '#7c3aed',
  'swarm:progress': '#c084fc',
  'workflow:start': '#34d399',
  'workflow:complete': '#059669',
  'workflow:step:complete': '#10b981',
  'budget:warning': '#f59e0b',
  'budget:exceeded': '#ea580c',
  'safety:block': '#db2777',
};

/** A stable colour for any type: the documented ones from the palette, others from a hash. */
export function typeColor(type) {
  if (PALETTE[type]) return PALETTE[type];
  let hash = 0;
  for (const char of type) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 52%)`;
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for the y axis and its tick step. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return { top: Math.ceil(max / step) * step, step };
}

function bucketLabel(start, bucket, withDate) {
  const [date, time] = start.split('T');
  const day = date.slice(5);
  if (bucket === 'day') return day;
  return withDate ? `${day} ${time.slice(0, 5)}` : time.slice(0, 5);
}

/** Clears `svg` and draws the frame: gridlines, y labels and x labels. Answers the plot area. */
function frame(svg, timeline, top, step, formatY) {
  svg.replaceChildren(svg.querySelector('desc') ?? el('desc'));
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  const plot = { x: PAD.left, y: PAD.top, w: WIDTH - PAD.left - PAD.right, h: HEIGHT - PAD.top - PAD.bottom };
  const grid = el('g', { class: 'grid' });
  for (let value = 0; value <= top + step / 2; value += step) {
    const y = plot.y + plot.h - (value / top) * plot.h;
    grid.append(el('line', { x1: plot.x, x2: plot.x + plot.w, y1: y, y2: y }));
    grid.append(el('text', { x: plot.x - 6, y: y + 4, 'text-anchor': 'end' }, formatY(value)));
  }
  const buckets = timeline.buckets;
  const every = Math.max(1, Math.ceil(buckets.length / 6));
  buckets.forEach((b, i) => {
    if (i % every !== 0) return;
    const x = plot.x + (i + 0.5) * (plot.w / buckets.length);
    const withDate = i === 0 || b.start.endsWith('T00:00:00Z');
    grid.append(el('text', { x, y: HEIGHT - 8, 'text-anchor': 'middle' }, bucketLabel(b.start, timeline.bucket, withDate)));
  });
  svg.append(grid);
  return plot;
}

function emptyChart(svg, message) {
  svg.replaceChildren(svg.querySelector('desc') ?? el('desc'));
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.append(el('text', { x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle', class: 'empty' }, message));
}

/** Stacked bars of events per bucket, one colour per type; answers the types drawn. */
export function drawCounts(svg, timeline) {
  const buckets = timeline.buckets;
  const types = [...new Set(buckets.flatMap((b) => Object.keys(b.counts)))].sort();
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  const sum = totals.reduce((a, n) => a + n, 0);
  const desc = svg.querySelector('desc');
  if (desc) desc.textContent = `${sum} events in ${buckets.length} ${timeline.bucket} buckets, at most ${Math.max(0, ...totals)} in one.`;
  if (sum === 0) {
    emptyChart(svg, 'No events in this range');
    return types;
  }
  const { top, step } = niceScale(Math.max(...totals));
  const plot = frame(svg, timeline, top, Math.max(1, step), (v) => String(Math.round(v)));
  const slot = plot.w / buckets.length;
  const bars = el('g', { class: 'bars' });
  buckets.forEach((b, i) => {
    let base = plot.y + plot.h;
    for (const type of types) {
      const n = b.counts[type];
      if (!n) continue;
      const h = (n / top) * plot.h;
      base -= h;
      const rect = el('rect', {
        x: plot.x + i * slot + slot * 0.1, y: base, width: Math.max(1, slot * 0.8), height: h,
        fill: typeColor(type), 'data-type': type,
      });
      rect.append(el('title', {}, `${b.start} · ${type}: ${n}`));
      bars.append(rect);
    }
  });
  svg.append(bars);
  return types;
}

/** Cost per bucket as a line over a shaded area. */
export function drawCost(svg, timeline, formatCost) {
  const buckets = timeline.buckets;
  const costs = buckets.map((b) => b.cost);
  const total = costs.reduce((a, c) => a + c, 0);
  const desc = svg.querySelector('desc');
  if (desc) desc.textContent = `Total cost ${formatCost(total)} over ${buckets.length} ${timeline.bucket} buckets.`;
  if (buckets.length === 0 || total === 0) {
    emptyChart(svg, buckets.length ? 'No cost in this range' : 'No events in this range');
    return;
  }
  const { top, step } = niceScale(Math.max(...costs));
  const plot = frame(svg, timeline, top, step, formatCost);
  const slot = plot.w / buckets.length;
  const points = costs.map((c, i) => [plot.x + (i + 0.5) * slot, plot.y + plot.h - (c / top) * plot.h]);
  const line = points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const floor = plot.y + plot.h;
  const area = `${line} L${points.at(-1)[0].toFixed(1)},${floor} L${points[0][0].toFixed(1)},${floor} Z`;
  svg.append(el('path', { d: area, class: 'cost-area' }));
  svg.append(el('path', { d: line, class: 'cost-line' }));
  const dots = el('g', { class: 'cost-dots' });
  points.forEach(([x, y], i) => {
    if (costs[i] === 0 && buckets.length > 48) return;
    const dot = el('circle', { cx: x, cy: y, r: buckets.length > 48 ? 1.5 : 3 });
    dot.append(el('title', {}, `${buckets[i].start} · cost ${formatCost(costs[i])}`));
    dots.append(dot);
  });
  svg.append(dots);
}
