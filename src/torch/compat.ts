/**
 * @module torchlight/torch/compat: what differs between libtorch lines on the TS side, as
 * native/src/compat.h holds the C++ side's differences. No other TS file reads the version.
 */
import { native } from "./native/index.js";

let version: [number, number] | null = null;
/** Whether the libtorch this addon was built against is `major.minor` or newer. */
export function torchAtLeast(major: number, minor: number): boolean {
  version ??= native.config().torchVersion.split(".").slice(0, 2).map(Number) as [number, number];
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

/**
 * `nn.init.trunc_normal_`: up to 2.11 Python draws by inverse CDF (uniform, erfinv, clamp); 2.12
 * replaced it by rejection sampling (pytorch#174997: erfinv's float32 outliers at small std).
 * torchlight draws as the Python torch of its own line, so seeded weights stay identical.
 */
export const truncNormalByRejection = (): boolean => torchAtLeast(2, 12);
