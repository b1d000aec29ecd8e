/**
 * Parses a manifest memory size: bytes as a whole number, or a number with a unit, e.g.
 * "300MiB", "1.5GiB", "512M", "2G", "64KiB". Binary units (KiB, MiB, GiB) are powers of
 * 1024; K, M and G mean the same (as Kubernetes' Ki/Mi and Docker's m/g do); KB, MB and
 * GB are powers of 1000.
 */
const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  K: 1024,
  KI: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MI: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GI: 1024 ** 3,
  GIB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};

/** The number of bytes `value` means; throws an Error saying what is wrong. */
export function parseMemorySize(value: number | string): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${value} is not a whole, positive number of bytes`);
    }
    return value;
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2].toUpperCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(
      `invalid memory size "${value}" (use bytes or a unit: KiB, MiB, GiB, e.g. "300MiB")`,
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes <= 0) throw new Error(`memory size "${value}" must be more than 0`);
  return bytes;
}

/** Formats bytes for people: "312.4 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} MiB`.replace("MiB", units[i]);
}
