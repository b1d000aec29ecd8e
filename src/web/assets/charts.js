// Small time charts for the overview: a history of numbers per key kept in the page
// (the last minutes, sampled at each poll) and inline SVG sparklines drawn from it. No
// chart library: a polyline scaled to the largest value is all a glance needs.

const SVG = "http://www.w3.org/2000/svg";

/** One sample: [time in ms, value]. @typedef {[number, number]} Point */

/** Values over time per key ("flow/hop/fps"), the last `maxAgeMs` of them. */
export class History {
  constructor(maxAgeMs = 5 * 60_000) {
    this.maxAgeMs = maxAgeMs;
    /** @type {Map<string, Point[]>} */
    this.series = new Map();
  }

  /**
   * Records `value` for `key` at `time` (ms); non-numbers are skipped.
   * @param {string} key
   * @param {unknown} value
   */
  add(key, value, time = Date.now()) {
    if (typeof value !== "number" || !Number.isFinite(value)) return;
    let list = this.series.get(key);
    if (!list) this.series.set(key, list = []);
    list.push([time, value]);
    while (list.length > 0 && time - list[0][0] > this.maxAgeMs) list.shift();
  }

  /** The [time, value] points of `key`, oldest first. @param {string} key @returns {Point[]} */
  points(key) {
    return this.series.get(key) ?? [];
  }

  /** Forgets the keys that do not start with one of `prefixes` (gone flows, modules). */
  /** @param {string[]} prefixes */
  keep(prefixes) {
    for (const key of this.series.keys()) {
      if (!prefixes.some((p) => key.startsWith(p))) this.series.delete(key);
    }
  }
}

/** An empty sparkline: an SVG with a baseline and a polyline, described by `label`. */
/** @param {string} label */
export function sparkline(label, width = 120, height = 28) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const title = document.createElementNS(SVG, "title");
  title.textContent = label;
  const base = document.createElementNS(SVG, "line");
  base.setAttribute("class", "spark-base");
  base.setAttribute("x1", "0");
  base.setAttribute("x2", String(width));
  base.setAttribute("y1", String(height - 0.5));
  base.setAttribute("y2", String(height - 0.5));
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("class", "spark-line");
  line.setAttribute("points", "");
  svg.append(title, base, line);
  svg.dataset.label = label;
  return svg;
}

/**
 * Draws `points` ([time, value], oldest first) into a sparkline over the last `spanMs`,
 * scaled from 0 to the largest value; the title says the latest value and the peak.
 */
/**
 * @param {SVGSVGElement} svg made by sparkline()
 * @param {Point[]} points
 * @param {number} spanMs
 * @param {(value: number) => string} [format]
 */
export function drawSparkline(svg, points, spanMs, format = (v) => String(v)) {
  const [, , width, height] = /** @type {string} */ (svg.getAttribute("viewBox")).split(" ").map(
    Number,
  );
  const now = points.length ? points[points.length - 1][0] : Date.now();
  const peak = Math.max(0, ...points.map(([, v]) => v));
  const scale = peak > 0 ? (height - 2) / peak : 0;
  const coords = points.map(([t, v]) => {
    const x = width - ((now - t) / spanMs) * width;
    const y = height - 1 - v * scale;
    return `${Math.max(0, x).toFixed(1)},${y.toFixed(1)}`;
  });
  /** @type {SVGPolylineElement} */ (svg.querySelector(".spark-line")).setAttribute(
    "points",
    coords.join(" "),
  );
  svg.dataset.points = String(points.length);
  const latest = points.length ? format(points[points.length - 1][1]) : "no data";
  const text = `${svg.dataset.label}: ${latest} now, peak ${format(peak)} (last ${
    Math.round(spanMs / 60_000)
  } min)`;
  const title = /** @type {Element} */ (svg.querySelector("title"));
  if (title.textContent !== text) title.textContent = text;
}
