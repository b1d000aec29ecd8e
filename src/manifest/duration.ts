/** Parses a manifest duration (seconds as a number, or "500ms", "30s", "5m", "1h") to ms. */
export function parseDuration(value: number | string): number {
  if (typeof value === "number") return Math.round(value * 1000);
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(value);
  if (!m) throw new Error(`invalid duration "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}
