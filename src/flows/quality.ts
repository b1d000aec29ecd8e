/** Quality profiles of flows: checking the ones clients ask for, and naming them. */
import { clone, create } from "@bufbuild/protobuf";
import { QualityPreset, type QualityProfile, QualityProfileSchema } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";

/** Checks a quality profile; INVALID_ARGUMENT naming the field. */
export function validateQuality(q: QualityProfile | undefined): QualityProfile {
  const quality = q ? clone(QualityProfileSchema, q) : create(QualityProfileSchema);
  if (!(quality.preset in QualityPreset)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `quality.preset: unknown value ${quality.preset}`);
  }
  const limits: [keyof QualityProfile, number][] = [
    ["maxBitrateKbps", 1_000_000],
    ["width", 16_384],
    ["height", 16_384],
    ["framerate", 1_000],
    ["audioBitrateKbps", 10_000],
  ];
  for (const [field, max] of limits) {
    const value = quality[field] as number;
    if (value > max) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `quality.${field}: ${value} is more than ${max}`,
      );
    }
  }
  return quality;
}

/** "MEDIUM, 1500 kbit/s, 30 fps" for messages. */
export function describeQuality(q: QualityProfile): string {
  const parts = [QualityPreset[q.preset] ?? String(q.preset)];
  if (q.maxBitrateKbps) parts.push(`${q.maxBitrateKbps} kbit/s`);
  if (q.width || q.height) parts.push(`${q.width}x${q.height}`);
  if (q.framerate) parts.push(`${q.framerate} fps`);
  if (q.audioBitrateKbps) parts.push(`audio ${q.audioBitrateKbps} kbit/s`);
  return parts.join(", ");
}
