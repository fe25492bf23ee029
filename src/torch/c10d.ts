/**
 * @module torchlight/torch/c10d: libtorch's c10d as torchlight/distributed uses it (process
 * groups, collectives, DDP's Reducer), with Tensors instead of native handles. Internal:
 * use `torchlight/distributed`.
 * @internal
 */
import { native, type PrivateStoreStats } from "./native/index.js";
import { handle, wrap, type Tensor } from "./tensor.js";

const hs = (ts: Tensor[], op: string) => ts.map((t) => handle(t, op, "tensors"));

/**
 * Joins a process group. With a `secret`, the store is torchlight's private one (rank 0 hosts it
 * unless a launcher does); without, PyTorch's TCPStore. `device`: where Gloo listens
 * ("if:NAME[,NAME]", "host:ADDR", or "" for the hostname's address).
 */
export const init = (host: string, port: number, worldSize: number, rank: number, timeoutMs: number, isServer: boolean, rendezvousTimeoutMs: number, prefix?: string, backend: "gloo" | "nccl" = "gloo", secret = "", device = ""): Promise<number> =>
  native.pgInit(host, port, worldSize, rank, timeoutMs, isServer, rendezvousTimeoutMs, prefix ?? "", backend, secret, device);
/** A TCPStore server in this process (port 0: a free one); resolves its id and port. */
export async function serveStore(host: string, port: number, worldSize: number, timeoutMs: number): Promise<{ id: number; port: number }> {
  const [id, p] = await native.storeServe(host, port, worldSize, timeoutMs);
  return { id, port: p };
}
export const closeStore = (id: number): void => native.storeClose(id);

/**
 * torchlight's private rendezvous store in this process (the driver's): it binds `host`
 * ("127.0.0.1" for a run on one machine, "0.0.0.0" for every interface) and serves only
 * clients presenting a secret given to {@link PrivateStore.allow}, each secret with a namespace
 * of its own. Requests are bounded and a stalled client holds only its own connection.
 */
export class PrivateStore {
  private constructor(readonly id: number, readonly port: number) {}
  static serve(host: string, port = 0): PrivateStore {
    const [id, p] = native.privateStoreServe(host === "0.0.0.0" ? "" : host, port);
    return new PrivateStore(id, p);
  }
  /** Clients presenting `secret` (16 to 512 characters) get the keys of `namespace`. */
  allow(namespace: string, secret: string): void { native.privateStoreAllow(this.id, namespace, secret); }
  /** Forgets `namespace`'s secret, cuts its clients off and drops its keys. */
  revoke(namespace: string): void { native.privateStoreRevoke(this.id, namespace); }
  stats(): PrivateStoreStats { return native.privateStoreStats(this.id); }
  /** The host's own read of `namespace`'s keys (null where absent). */
  read(namespace: string, keys: string[]): (string | null)[] { return native.privateStoreRead(this.id, namespace, keys); }
  /** The host's own write into `namespace` (wakes no waiter). */
  write(namespace: string, key: string, value: string): void { native.privateStoreWrite(this.id, namespace, key, value); }
  close(): void { native.privateStoreClose(this.id); }
}
/**
 * A client of a private store (one authenticated connection), without a process group:
 * `torchlight launch`'s agents rendezvous through it. Requests are serialised.
 */
export class StoreClient {
  private closed = false;
  private constructor(readonly id: number) {}
  /** Connects, retrying until `timeoutMs` while the server is not up yet, and presents `secret`. */
  static async connect(host: string, port: number, secret: string, timeoutMs: number): Promise<StoreClient> {
    return new StoreClient(await native.storeConnect(host, port, secret, timeoutMs));
  }
  set(key: string, value: string): void { native.storeSet(this.id, key, value); }
  /** Adds `delta` to the key's counter (created at 0); returns the new value. */
  add(key: string, delta: number): number { return native.storeAdd(this.id, key, delta); }
  /** The values of `keys` now (null where absent), in one round trip. */
  getNow(keys: string[]): (string | null)[] { return native.storeGetNow(this.id, keys); }
  /** Waits (off the JS thread) until `key` exists; rejects after `timeoutMs`. */
  get(key: string, timeoutMs: number): Promise<string> { return native.storeGet(this.id, key, timeoutMs); }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native.pgDestroy(this.id);
  }
}
export const newGroup = (parent: number, ranks: number[], timeoutMs: number, rank: number, tag: string): Promise<number> =>
  native.pgNew(parent, ranks, timeoutMs, rank, tag);
export const destroy = (g: number): void => native.pgDestroy(g);
export const allReduce = (g: number, ts: Tensor[], op: string): Promise<void> => native.pgAllReduce(g, hs(ts, "allReduce"), op);
export const broadcast = (g: number, ts: Tensor[], src: number): Promise<void> => native.pgBroadcast(g, hs(ts, "broadcast"), src);
export const allGather = (g: number, out: Tensor[], input: Tensor): Promise<void> => native.pgAllGather(g, hs(out, "allGather"), handle(input, "allGather", "tensor"));
export const gather = (g: number, out: Tensor[], input: Tensor, dst: number): Promise<void> => native.pgGather(g, hs(out, "gather"), handle(input, "gather", "tensor"), dst);
export const scatter = (g: number, out: Tensor, inputs: Tensor[], src: number): Promise<void> => native.pgScatter(g, handle(out, "scatter", "tensor"), hs(inputs, "scatter"), src);
export const barrier = (g: number): Promise<void> => native.pgBarrier(g);
export const send = (g: number, t: Tensor, dst: number, tag: number): Promise<void> => native.pgSend(g, handle(t, "send", "tensor"), dst, tag);
export const recv = (g: number, t: Tensor, src: number, tag: number): Promise<void> => native.pgRecv(g, handle(t, "recv", "tensor"), src, tag);
/**
 * A TorchTrainer worker's watchdog (native/src/watchdog.cpp): a native thread that writes this
 * rank's liveness and the collective it is in to the run's private store every `intervalMs`,
 * captures the JS stack when the driver asks, and exits the process when the store has not
 * answered for `graceMs` (the driver is gone).
 */
export const startWatchdog = (host: string, port: number, secret: string, rank: number, intervalMs: number, graceMs: number): void =>
  native.watchdogStart(host, port, secret, rank, intervalMs, graceMs);
/** This rank entered collective `seq` of `stream`; returns the token for {@link watchLeave}. */
export const watchEnter = (stream: string, op: string, seq: number): number => native.watchEnter(stream, op, seq);
export const watchLeave = (token: number): void => native.watchLeave(token);

export const storeSet = (g: number, key: string, value: string): void => native.storeSet(g, key, value);
/** Waits for `key`; with `take`, deletes it once read (a key its one reader consumes). */
export const storeGet = (g: number, key: string, timeoutMs: number, take = false): Promise<string> => native.storeGet(g, key, timeoutMs, take);
export const storeGetNow = (g: number, keys: string[]): (string | null)[] => native.storeGetNow(g, keys);
/** Sets `key` then reads `keys` without waiting (one round trip on the private store). */
export const storeSetGetNow = (g: number, key: string, value: string, keys: string[]): (string | null)[] => native.storeGetNow(g, keys, key, value);
export const broadcastCoalesced = (g: number, ts: Tensor[], bytes: number, src: number): Promise<void> => native.broadcastCoalesced(g, hs(ts, "broadcastCoalesced"), bytes, src);
export const broadcastCoalescedSync = (g: number, ts: Tensor[], bytes: number, src: number): void => native.broadcastCoalescedSync(g, hs(ts, "broadcastCoalesced"), bytes, src);
export const reducerNew = (g: number, params: Tensor[], bucketBytes: number, firstBucketBytes: number, findUnused: boolean, asView: boolean): number =>
  native.reducerNew(g, hs(params, "DistributedDataParallel"), bucketBytes, firstBucketBytes, findUnused, asView);
export const reducerPrepareForward = (r: number): void => native.reducerPrepareForward(r);
export const reducerPrepareBackward = (r: number, outputs: Tensor[]): void => native.reducerPrepareBackward(r, hs(outputs, "DistributedDataParallel"));
export const reducerFree = (r: number): void => native.reducerFree(r);
const hOpt = (t: Tensor | null, what: string) => (t === null ? null : handle(t, "SyncBatchNorm", what));
/** Batch norm with statistics over every rank of group `g` (forward all_gather, backward all_reduce; waits on this thread). */
export const syncBatchNorm = (g: number, input: Tensor, weight: Tensor | null, bias: Tensor | null, runningMean: Tensor | null, runningVar: Tensor | null, eps: number, momentum: number): Tensor =>
  wrap(native.syncBatchNorm(g, handle(input, "SyncBatchNorm", "input"), hOpt(weight, "weight"), hOpt(bias, "bias"), hOpt(runningMean, "runningMean"), hOpt(runningVar, "runningVar"), eps, momentum));
