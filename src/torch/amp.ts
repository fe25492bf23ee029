/** @module torchlight/torch/amp: automatic mixed precision, as `torch.autocast`. */
import { checkOptions } from "../util/validate.js";
import { native } from "./native/index.js";
import { dtypeCode, type DType } from "./dtype.js";
import { TorchArgumentError } from "./errors.js";

export type AutocastDevice = "cpu" | "cuda";

/** Options of {@link autocast}, as `torch.autocast`'s. */
export interface AutocastOptions {
  /** The lower precision to run eligible ops in: default `"bfloat16"` on CPU, `"float16"` on CUDA. */
  dtype?: DType;
  /** `false` runs `fn` with autocast off (handy to switch it by a flag). Default `true`. */
  enabled?: boolean;
  /** Cache the low-precision copies of leaf tensors (weights) inside the region. Default `true`. */
  cacheEnabled?: boolean;
}

const DEFAULT_DTYPE: Record<AutocastDevice, DType> = { cpu: "bfloat16", cuda: "float16" };
const SUPPORTED: Record<AutocastDevice, readonly DType[]> = { cpu: ["bfloat16"], cuda: ["float16", "bfloat16"] };

/**
 * Runs `fn` with autocast on for `deviceType`, as Python's `with torch.autocast(device_type)`:
 * ops on autocast's lower-precision list (matmul, linear, conv, ...) run in `dtype`, those on its
 * float32 list (losses, softmax, norms, ...) in float32, whatever their inputs. Run only the
 * forward pass inside; `backward()` outside uses the dtypes the forward chose.
 * The state belongs to the calling thread, so `fn` must be synchronous.
 * @example
 * const loss = torch.autocast("cpu", () => criterion.forward(model.forward(x), y));
 * loss.backward();
 */
export function autocast<T>(deviceType: AutocastDevice, fn: () => T, opts: AutocastOptions = {}): T {
  checkOptions("autocast", opts, ["dtype", "enabled", "cacheEnabled"], (m) => new TorchArgumentError(m, "autocast"));
  if (deviceType !== "cpu" && deviceType !== "cuda")
    throw new TorchArgumentError(`autocast: expected deviceType 'cpu' or 'cuda' but received ${JSON.stringify(deviceType)}`, "autocast");
  const dtype = opts.dtype ?? DEFAULT_DTYPE[deviceType];
  const enabled = opts.enabled ?? true;
  if (enabled && !SUPPORTED[deviceType].includes(dtype))
    throw new TorchArgumentError(`autocast: ${deviceType} autocast supports dtype ${SUPPORTED[deviceType].join(" or ")} but received '${dtype}'; ` +
      `pass { dtype: "${DEFAULT_DTYPE[deviceType]}" } or convert the model itself (module.to("${dtype}"))`, "autocast");
  const [prevEnabled, prevDtype, prevCache] = native.autocastEnter(deviceType, enabled, dtypeCode(dtype), opts.cacheEnabled ?? true);
  try {
    const r = fn();
    if (r instanceof Promise)
      throw new TorchArgumentError("autocast: expected a synchronous function but it returned a Promise; autocast is per-thread state and an await would leak it to other code. Run the forward pass synchronously inside autocast.", "autocast");
    return r;
  } finally {
    native.autocastExit(deviceType, prevEnabled, prevDtype, prevCache);
  }
}

/** Whether autocast is on for `deviceType` on this thread (`torch.is_autocast_enabled`). */
export const isAutocastEnabled = (deviceType: AutocastDevice = "cuda"): boolean => native.isAutocastEnabled(deviceType);
