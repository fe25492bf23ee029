/** @module torchlight/torch/native: loads the libtorch addon and types its entry points. */
import { env } from "../../util/env.js";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TorchLoadError, makeNativeError } from "../errors.js";
import type { Handle, NativeOps } from "./ops.generated.js";

export type { Handle, NativeOps };

/** What the addon reports about the runtime it loaded (see `torch.config()`). */
/** The private store's counters (auth_store.h). */
export interface PrivateStoreStats { connections: number; unauthenticated: number; refused: number; keys: number; bytes: number }

export interface NativeConfig {
  torchVersion: string;
  blas: string;
  blasLibrary: string;
  allocator: string;
  allocatorTuning: string;
  /** oneDNN: "enabled", "not built", or "disabled: why" (a failed self-check at load turns it off). */
  mkldnn: string;
  numThreads: number;
  numInteropThreads: number;
  cuda: boolean;
  cudaDeviceCount: number;
  builtWithCuda: boolean;
  /** Whether this build can make NCCL process groups (a CUDA build of libtorch 2.x). */
  nccl: boolean;
  parallelInfo: string;
}

/** The hand-written entry points of native/src/addon.cpp. */
export interface NativeCore {
  ops: NativeOps;
  opCount: number;
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: number, requiresGrad?: boolean): Handle;
  dispose(h: Handle): boolean;
  disposeMany(hs: Handle[]): void;
  /** Linux: SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG); false if the parent is not `expectedParentPid` any more. */
  dieWithParent(expectedParentPid: number): boolean;
  /** Ties each handle's lifetime to its Tensor object: freed inside the GC that finds it unreachable. */
  gcWatch(tensors: object[], hs: Handle[]): void;
  /** One float64: bytes of tensors created since the last gcWatch (memory.ts resets it). */
  unwatchedBytes: ArrayBuffer;
  memory(): { numTensors: number; numBytes: number };
  shape(h: Handle): number[];
  strides(h: Handle): number[];
  dim(h: Handle): number;
  size(h: Handle, dim: number): number;
  numel(h: Handle): number;
  dtype(h: Handle): number;
  device(h: Handle): string;
  isContiguous(h: Handle): boolean;
  contiguous(h: Handle, memoryFormat?: number): Handle;
  storageOffset(h: Handle): number;
  sharesStorage(a: Handle, b: Handle): boolean;
  data(h: Handle): ArrayBuffer;
  item(h: Handle): number | boolean;
  requiresGrad(h: Handle): boolean;
  setRequiresGrad(h: Handle, v: boolean): Handle;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  gradFn(h: Handle): string | null;
  retainGrad(h: Handle): void;
  backward(h: Handle, grad: Handle | null, retainGraph: boolean | undefined, createGraph: boolean, inputs: Handle[] | undefined): void;
  autogradGrad(outputs: Handle[], inputs: Handle[], gradOutputs: (Handle | null)[] | undefined, retainGraph: boolean | undefined, createGraph: boolean, allowUnused: boolean): (Handle | null)[];
  setGradEnabled(v: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setThreadNumThreads(n: number): void;
  setErrorFactory(fn: (kind: string, message: string, op: string) => Error): void;
  flushMemoryPressure(): void;
  autocastEnter(deviceType: string, enabled: boolean, dtype: number, cacheEnabled: boolean): [boolean, number, boolean];
  autocastExit(deviceType: string, enabled: boolean, dtype: number, cacheEnabled: boolean): void;
  isAutocastEnabled(deviceType: string): boolean;
  setDeterministicAlgorithms(mode: boolean, warnOnly: boolean): void;
  deterministicAlgorithms(): [boolean, boolean];
  config(): NativeConfig;
  // optim.cpp: optimizer updates per parameter group (state: K handles per param, 0 = none)
  sgdStep(params: Handle[], state: Handle[], lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, maximize: boolean): Handle[];
  adamStep(params: Handle[], state: Handle[], lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, amsgrad: boolean, maximize: boolean, decoupled: boolean): Handle[];
  rmspropStep(params: Handle[], state: Handle[], lr: number, alpha: number, eps: number, weightDecay: number, momentum: number, centered: boolean, maximize: boolean): Handle[];
  adagradStep(params: Handle[], state: Handle[], lr: number, lrDecay: number, weightDecay: number, eps: number, initialAccumulatorValue: number, maximize: boolean): Handle[];
  clipGradNorm(params: Handle[], maxNorm: number, normType: number, errorIfNonfinite: boolean): Handle;
  clipGradValue(params: Handle[], clipValue: number): void;
  setData(h: Handle, data: Handle): void;
  // generator.cpp: torch.Generator (id 0: the default CPU generator)
  generatorNew(seed?: number | bigint): number;
  generatorFree(id: number): void;
  generatorManualSeed(id: number, seed: number | bigint): void;
  generatorInitialSeed(id: number): number | bigint;
  generatorSeed(id: number): number | bigint;
  generatorGetState(id: number): Handle;
  generatorSetState(id: number, state: Handle): void;
  // share.cpp: tensors across JS threads without copies
  exportTensor(h: Handle, persistent?: boolean): number;
  importTensor(token: number): Handle;
  releaseTokens(tokens: number[]): void;
  sharedCount(): number;
  // distributed.cpp: c10d process groups, collectives, DDP's Reducer
  pgInit(host: string, port: number, worldSize: number, rank: number, timeoutMs: number, isServer: boolean, rendezvousTimeoutMs: number, prefix?: string, backend?: "gloo" | "nccl", secret?: string, device?: string): Promise<number>;
  storeServe(host: string, port: number, worldSize: number, timeoutMs: number): Promise<[number, number]>;
  storeClose(store: number): void;
  privateStoreServe(host: string, port: number): [number, number];
  privateStoreAllow(store: number, namespace: string, secret: string): void;
  privateStoreRevoke(store: number, namespace: string): void;
  privateStoreStats(store: number): PrivateStoreStats;
  privateStoreRead(store: number, namespace: string, keys: string[]): (string | null)[];
  privateStoreWrite(store: number, namespace: string, key: string, value: string): void;
  privateStoreClose(store: number): void;
  watchdogStart(host: string, port: number, secret: string, rank: number, intervalMs: number, graceMs: number): void;
  watchEnter(stream: string, op: string, seq: number): number;
  watchLeave(token: number): void;
  pgNew(parent: number, ranks: number[], timeoutMs: number, rank: number, tag: string): Promise<number>;
  pgDestroy(group: number): void;
  pgAllReduce(group: number, tensors: Handle[], op: string): Promise<void>;
  pgBroadcast(group: number, tensors: Handle[], src: number): Promise<void>;
  pgAllGather(group: number, outputs: Handle[], input: Handle): Promise<void>;
  pgGather(group: number, outputs: Handle[], input: Handle, dst: number): Promise<void>;
  pgScatter(group: number, output: Handle, inputs: Handle[], src: number): Promise<void>;
  pgBarrier(group: number): Promise<void>;
  pgSend(group: number, tensor: Handle, dst: number, tag: number): Promise<void>;
  pgRecv(group: number, tensor: Handle, src: number, tag: number): Promise<void>;
  storeSet(group: number, key: string, value: string): void;
  storeGetNow(group: number, keys: string[], setKey?: string, setValue?: string): (string | null)[];
  storeGet(group: number, key: string, timeoutMs: number, take?: boolean): Promise<string>;
  storeAdd(group: number, key: string, delta: number): number;
  storeConnect(host: string, port: number, secret: string, timeoutMs: number): Promise<number>;
  broadcastCoalesced(group: number, tensors: Handle[], bufferBytes: number, src: number): Promise<void>;
  broadcastCoalescedSync(group: number, tensors: Handle[], bufferBytes: number, src: number): void;
  reducerNew(group: number, params: Handle[], bucketBytes: number, firstBucketBytes: number, findUnused: boolean, gradientAsBucketView: boolean): number;
  reducerPrepareForward(reducer: number): void;
  reducerPrepareBackward(reducer: number, outputs: Handle[]): void;
  reducerFree(reducer: number): void;
  syncBatchNorm(group: number, input: Handle, weight: Handle | null, bias: Handle | null, runningMean: Handle | null, runningVar: Handle | null, eps: number, momentum: number): Handle;
  // torch.cuda (CUDA builds; a TorchError naming the fix elsewhere)
  cudaSynchronize(device?: number): void;
  cudaManualSeed(seed: number, device?: number): void;
  cudaMemoryStats(device: number): Record<string, number>;
  cudaEmptyCache(): void;
  // serialize.cpp: torch.save / torch.load bytes
  writeZip(records: [string, Buffer][]): Buffer;
}

function load(): NativeCore {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
  const path = env("addon") ?? join(root, "build", "Release", "torchlight.node");
  if (!existsSync(path)) {
    throw new TorchLoadError(`torchlight: the native addon ${path} is not built. Run 'npm run build' (or 'npm test', which installs libtorch and builds it).`);
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeCore;
    addon.setErrorFactory(makeNativeError);
    return addon;
  } catch (e) {
    throw new TorchLoadError(`torchlight: the native addon ${path} failed to load on ${process.platform}-${process.arch}: ${(e as Error).message}. ` +
      `Rebuild it with 'npm run build:native'; if libtorch moved, set LIBTORCH or LIBTORCH_USE_PYTORCH=1 first.`, { cause: e });
  }
}

/** The loaded addon (loaded once per process or worker thread). */
export const native: NativeCore = load();

// The addon's load-time oneDNN check failed (compat.h): say what it costs and how to choose.
{
  const mkldnn = native.config().mkldnn;
  if (mkldnn.startsWith("disabled: oneDNN") && !(globalThis as { __torchlightMkldnnWarned?: boolean }).__torchlightMkldnnWarned) {
    (globalThis as { __torchlightMkldnnWarned?: boolean }).__torchlightMkldnnWarned = true;
    process.emitWarning(`${mkldnn.slice("disabled: ".length)}. Convolutions run several times slower without it (ResNet-18 10x here). ` +
      "TORCHLIGHT_MKLDNN=1 keeps oneDNN on (fast, but convolutions with few channels may get wrong input gradients); TORCHLIGHT_MKLDNN=0 turns it off without this check.", { code: "TORCHLIGHT_MKLDNN" });
  }
}
/** The generated op bindings. */
export const ops: NativeOps = native.ops;
