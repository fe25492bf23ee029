/**
 * @module torchlight/torch: tensors, autograd and memory scopes over libtorch.
 * @example
 * import * as torch from "torchlight/torch";
 * const x = torch.randn([3, 4], { requiresGrad: true });
 * const loss = torch.tidy(() => x.mul(2).sum().keep());
 * loss.backward();
 */
import { torchOptions } from "./errors.js";
import { native, type NativeConfig } from "./native/index.js";

export { Tensor, type Scalar, type Dims, type NestedArray, type IndexItem, type ValuesIndices, type ReduceOptions } from "./tensor.js";
export { tensor, zeros, ones, empty, full, rand, randn, randint, randperm, eye, linspace, arange, zerosLike, onesLike, emptyLike, fullLike, randLike, randnLike, randintLike, type TensorOptions, type RandomOptions } from "./creation.js";
export { cat, stack, einsum, matmul, broadcastTensors, add, sub, mul, div, pow, clamp, allclose, where } from "./functional.js";
export { tidy, keep, dispose, memory } from "./memory.js";
export { Generator, getRngState, setRngState, initialSeed, seed } from "./generator.js";
export { noGrad, enableGrad, isGradEnabled, setGradEnabled } from "./autograd.js";
export { autocast, isAutocastEnabled, type AutocastOptions, type AutocastDevice } from "./amp.js";
/** `torch.amp`: {@link GradScaler} (loss scaling for float16). */
export * as amp from "./grad_scaler.js";
export * as autograd from "./autograd.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export { TorchError, TorchArgumentError, TorchLoadError, type TorchErrorCode } from "./errors.js";
export { InvalidArgumentError } from "../util/validate.js";
export type { DType, MemoryFormat } from "./dtype.js";

export const float32 = "float32", float64 = "float64", float16 = "float16", bfloat16 = "bfloat16";
export const int8 = "int8", int16 = "int16", int32 = "int32", int64 = "int64", uint8 = "uint8", bool = "bool";
export const float = float32, double = float64, half = float16, long = int64, int = int32;

/** Seeds every libtorch random generator (CPU and CUDA). */
export const manualSeed = (seed: number): void => native.manualSeed(seed);
/** Sets the number of intra-op threads (default: the cores this process may use). */
export const setNumThreads = (n: number): void => native.setNumThreads(n);
export const getNumThreads = (): number => native.getNumThreads();
/** Intra-op threads for ops started from the calling JS thread only (DataLoader workers use 1). */
export const setThreadNumThreads = (n: number): void => native.setThreadNumThreads(n);

/**
 * Makes ops use deterministic algorithms where they have one and throw where they do not
 * (`torch.use_deterministic_algorithms`); `warnOnly` warns instead of throwing. On CPU the
 * kernels are deterministic already; on CUDA also set CUBLAS_WORKSPACE_CONFIG=":4096:8".
 */
export function useDeterministicAlgorithms(mode: boolean, opts: { warnOnly?: boolean } = {}): void {
  torchOptions("useDeterministicAlgorithms", opts, ["warnOnly"]);
  native.setDeterministicAlgorithms(mode, opts.warnOnly ?? false);
}
export const areDeterministicAlgorithmsEnabled = (): boolean => native.deterministicAlgorithms()[0];
export const isDeterministicAlgorithmsWarnOnlyEnabled = (): boolean => native.deterministicAlgorithms()[1];

/** What the runtime got: libtorch version, BLAS, allocator, threads, CUDA. */
export interface TorchConfig extends Omit<NativeConfig, "parallelInfo"> { parallelInfo: string; opCount: number }
/** @example console.log(torch.config().blas) // "openblas" */
export function config(): TorchConfig {
  return { ...native.config(), opCount: native.opCount };
}

const cudaDevice = (device: number | string | undefined, op: string): number | undefined => {
  if (device === undefined) return undefined;
  const index = typeof device === "number" ? device : /^cuda(?::(\d+))?$/.exec(device)?.[1] ?? (device === "cuda" ? "0" : undefined);
  if (index === undefined || !Number.isInteger(Number(index)) || Number(index) < 0) {
    throw new TypeError(`torch.cuda.${op}: expected a device index or "cuda:N" but received ${JSON.stringify(device)}`);
  }
  return Number(index);
};

/**
 * CUDA helpers, as `torch.cuda`. Everything but `isAvailable` and `deviceCount` needs a CUDA
 * build and a GPU, and otherwise throws a TorchError that names the fix.
 * @example if (torch.cuda.isAvailable()) { torch.cuda.synchronize(); console.log(torch.cuda.memoryAllocated()); }
 */
export const cuda = {
  isAvailable: (): boolean => native.config().cuda,
  deviceCount: (): number => native.config().cudaDeviceCount,
  /** Waits for all kernels queued on `device` (default: the current device). */
  synchronize: (device?: number | string): void => native.cudaSynchronize(cudaDevice(device, "synchronize")),
  /** Seeds the CUDA generator of `device` (default: the current one). `torch.manualSeed` seeds every device. */
  manualSeed: (seed: number, device?: number | string): void => native.cudaManualSeed(seed, cudaDevice(device, "manualSeed")),
  /** Seeds the CUDA generators of every device. */
  manualSeedAll: (seed: number): void => native.cudaManualSeed(seed, -1),
  /** The caching allocator's counters, by `torch.cuda.memory_stats`' names (aggregate pool). */
  memoryStats: (device: number | string = 0): Record<string, number> => native.cudaMemoryStats(cudaDevice(device, "memoryStats")!),
  /** Bytes held by tensors on `device`, as `torch.cuda.memory_allocated`. */
  memoryAllocated: (device: number | string = 0): number => native.cudaMemoryStats(cudaDevice(device, "memoryAllocated")!)["allocated_bytes.all.current"]!,
  /** Bytes the caching allocator holds from the driver, as `torch.cuda.memory_reserved`. */
  memoryReserved: (device: number | string = 0): number => native.cudaMemoryStats(cudaDevice(device, "memoryReserved")!)["reserved_bytes.all.current"]!,
  /** The peak of memoryAllocated, as `torch.cuda.max_memory_allocated`. */
  maxMemoryAllocated: (device: number | string = 0): number => native.cudaMemoryStats(cudaDevice(device, "maxMemoryAllocated")!)["allocated_bytes.all.peak"]!,
  /** Returns cached, unused blocks to the driver, as `torch.cuda.empty_cache`. */
  emptyCache: (): void => native.cudaEmptyCache(),
};
export { save, load, saveAsync, loadAsync, serialize, deserialize, writeAtomic, PickledObject, type Saveable, type LoadOptions } from "./serialization.js";
export * as safetensors from "./safetensors.js";
export * as sharing from "./sharing.js";
/** @internal libtorch's c10d for torchlight/distributed. */
// internals (c10d bindings, process-group state) live in ./internal.ts
