/**
 * @module torchlight/distributed/process_group: `initProcessGroup` and the collectives, as
 * `torch.distributed`, over libtorch's c10d (TCPStore rendezvous, ProcessGroupGloo).
 *
 * Collectives return Promises and run off the JS thread; `{ async: true }` returns a `Work`
 * to wait on later. Beyond c10d: every collective of a group carries a sequence number and
 * its call site, recorded in the rendezvous store, so a failure says which operation (and
 * which number) failed, which ranks never arrived, and whether ranks called different
 * collectives at the same point (a mismatch is reported as such, at once on the rank that
 * detects it, instead of hanging).
 */
import { isLoopback } from "../util/net.js";
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { setDefaultGroupInfo } from "../torch/distributed_state.js";
import * as c10d from "../torch/c10d.js";
import { checkOptions } from "../util/validate.js";
import { ENV, env } from "../util/env.js";


/** Reduction operations of allReduce/reduceScatter, as `torch.distributed.ReduceOp`. */
export const ReduceOp = { SUM: "sum", AVG: "avg", PRODUCT: "product", MIN: "min", MAX: "max" } as const;
export type ReduceOpName = (typeof ReduceOp)[keyof typeof ReduceOp];

/** Error codes of {@link DistributedError}. */
export type DistributedErrorCode = "DIST_NOT_INITIALIZED" | "DIST_ALREADY_INITIALIZED" | "DIST_BAD_ARGUMENT" | "DIST_TIMEOUT" | "DIST_PEER_FAILED" | "DIST_MISMATCH" | "DIST_BACKEND_ERROR";

/** A failed collective or a misuse: the operation, its sequence number, and who did not arrive. */
export class DistributedError extends Error {
  override name = "DistributedError";
  constructor(message: string, readonly code: DistributedErrorCode, readonly details: { op?: string; seq?: number; missingRanks?: number[]; mismatch?: Record<number, string> } = {}, options?: ErrorOptions) {
    super(message, options);
  }
}

const badArgument = (m: string) => new DistributedError(m, "DIST_BAD_ARGUMENT");

/** Options of {@link initProcessGroup}, as `torch.distributed.init_process_group`'s. */
export interface InitOptions {
  /** "gloo" (CPU; the only backend of a CPU libtorch) or "nccl" (CUDA builds). */
  backend?: "gloo" | "nccl";
  /** "env://" (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK) or "tcp://host:port". */
  initMethod?: string;
  worldSize?: number;
  rank?: number;
  /** How long a collective may wait for its peers (default 30 minutes, as PyTorch). */
  timeoutMs?: number;
  /** How long joining may wait for every rank to start (default: timeoutMs, at least 60 s). */
  rendezvousTimeoutMs?: number;
}

/** A process group: the world, or a subgroup from {@link newGroup}. */
export class ProcessGroup {
  /** @internal */ seq = 0;
  constructor(/** @internal */ readonly id: number, readonly rank: number, readonly size: number, /** @internal */ readonly ranks: number[], readonly timeoutMs: number,
    /** "world", or the subgroup's tag (the same on every rank: groups are made in the same order everywhere). */
    readonly name = "world") {}
}

let world: ProcessGroup | null = null;
let subgroups = 0;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new DistributedError(`initProcessGroup: environment variable ${name}=${JSON.stringify(v)} is not an integer`, "DIST_BAD_ARGUMENT");
  return n;
}

/** The private store's secret from the environment (TorchTrainer's driver sets it), or "" for a plain TCPStore. */
function storeSecret(): string {
  const s = env("storeSecret") ?? "";
  if (s !== "" && (s.length < 16 || s.length > 512)) throw new DistributedError(`initProcessGroup: ${ENV.storeSecret} must have 16 to 512 characters (it has ${s.length}); unset it to use a plain TCPStore`, "DIST_BAD_ARGUMENT");
  return s;
}

/**
 * Where Gloo listens: the interfaces of GLOO_SOCKET_IFNAME (comma-separated) as in PyTorch; else
 * loopback when the rendezvous address is loopback (every rank is on this machine, so nothing
 * listens on the network); else the address of this machine's hostname, Gloo's default.
 */
function glooDevice(host: string): string {
  const ifname = process.env.GLOO_SOCKET_IFNAME;
  if (ifname) return `if:${ifname}`;
  return isLoopback(host) ? "host:127.0.0.1" : "";
}

/**
 * Joins the process group: rank 0 hosts the TCPStore at the init address, every rank then
 * connects (each waits up to `timeoutMs` for the others). Under a launcher that hosts the
 * store itself (torchrun's agent store, TorchTrainer's driver: TORCHELASTIC_USE_AGENT_STORE=True)
 * every rank is a client, and the keys of restart N live under `/worker/attempt_N`
 * (TORCHELASTIC_RESTART_COUNT) as in PyTorch, so a restarted group never reads stale ones.
 * With TORCHLIGHT_STORE_SECRET set (TorchTrainer's workers), the store is torchlight's private
 * one, which serves only processes presenting that secret; without it, PyTorch's TCPStore, so a
 * store that torchrun or another launcher hosts can be joined. Gloo listens on GLOO_SOCKET_IFNAME's
 * interfaces, or on loopback when the rendezvous address is loopback.
 * @example
 * await initProcessGroup({ backend: "gloo" });   // env:// from MASTER_ADDR/PORT, WORLD_SIZE, RANK
 */
export async function initProcessGroup(opts: InitOptions = {}): Promise<void> {
  checkOptions("initProcessGroup", opts, ["backend", "initMethod", "worldSize", "rank", "timeoutMs", "rendezvousTimeoutMs"], badArgument);
  if (world) throw new DistributedError("initProcessGroup: the default process group is already initialised; call destroyProcessGroup() first", "DIST_ALREADY_INITIALIZED");
  const backend = opts.backend ?? "gloo";
  if (backend === "nccl") {
    const cfg = torch.config();
    if (!cfg.nccl) {
      throw new DistributedError(`initProcessGroup: backend "nccl" needs a CUDA build of libtorch 2.x, and torchlight was built against libtorch ${cfg.torchVersion} without CUDA; use backend "gloo", or rebuild against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1 npm run build:native with a CUDA pip torch)`, "DIST_BAD_ARGUMENT");
    }
    if (!torch.cuda.isAvailable()) throw new DistributedError("initProcessGroup: backend \"nccl\" needs a CUDA device, and none is visible (check CUDA_VISIBLE_DEVICES and the driver); use backend \"gloo\"", "DIST_BAD_ARGUMENT");
  } else if (backend !== "gloo") {
    throw new DistributedError(`initProcessGroup: unknown backend ${JSON.stringify(backend)}; use "gloo" (CPU) or "nccl" (CUDA)`, "DIST_BAD_ARGUMENT");
  }
  const method = opts.initMethod ?? "env://";
  let host: string, port: number;
  if (method === "env://") {
    host = process.env.MASTER_ADDR ?? "";
    const p = envInt("MASTER_PORT");
    if (!host || p === undefined) throw new DistributedError("initProcessGroup: init method env:// needs MASTER_ADDR and MASTER_PORT in the environment (or pass initMethod: \"tcp://host:port\")", "DIST_BAD_ARGUMENT");
    port = p;
  } else {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(method);
    if (!m) throw new DistributedError(`initProcessGroup: initMethod must be "env://" or "tcp://host:port"; got ${JSON.stringify(method)}`, "DIST_BAD_ARGUMENT");
    host = m[1]!.replace(/^\[|\]$/g, "");
    port = Number(m[2]);
  }
  const worldSize = opts.worldSize ?? envInt("WORLD_SIZE");
  const rank = opts.rank ?? envInt("RANK");
  if (worldSize === undefined || rank === undefined) throw new DistributedError("initProcessGroup: give worldSize and rank (or WORLD_SIZE and RANK in the environment)", "DIST_BAD_ARGUMENT");
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new DistributedError(`initProcessGroup: rank ${rank} must be in [0, worldSize=${worldSize})`, "DIST_BAD_ARGUMENT");
  }
  const timeoutMs = opts.timeoutMs ?? 30 * 60 * 1000;
  let id: number;
  try {
    const agentStore = process.env.TORCHELASTIC_USE_AGENT_STORE === "True";
    const prefix = agentStore ? `/worker/attempt_${process.env.TORCHELASTIC_RESTART_COUNT ?? 0}` : "";
    id = await c10d.init(host, port, worldSize, rank, timeoutMs, rank === 0 && !agentStore, opts.rendezvousTimeoutMs ?? Math.max(timeoutMs, 60000), prefix, backend, storeSecret(), glooDevice(host));
  } catch (e) {
    throw new DistributedError(`initProcessGroup: rendezvous at ${host}:${port} as rank ${rank} of ${worldSize} failed: ${(e as Error).message}`, "DIST_BACKEND_ERROR", {}, { cause: e });
  }
  world = new ProcessGroup(id, rank, worldSize, Array.from({ length: worldSize }, (_, i) => i), timeoutMs);
  setDefaultGroupInfo({ rank, worldSize });
}

/**
 * @internal Rank `src`'s boolean, on every rank of `group`, waiting on the JS thread (for
 * decisions inside synchronous hooks, as Lightning broadcasts ModelCheckpoint's time check).
 * Every rank must call it at the same point.
 */
export function _broadcastFlagSync(flag: boolean, src = 0, group?: ProcessGroup): boolean {
  const g = need(group);
  if (g.size === 1) return flag;
  const t = torch.tensor([flag ? 1 : 0], { dtype: "uint8" });
  try {
    c10d.broadcastCoalescedSync(g.id, [t], 64, src);
    return t.item() === 1;
  } finally { t.dispose(); }
}

/** Leaves the process group and frees it (and its subgroups' handles). */
export function destroyProcessGroup(group?: ProcessGroup): void {
  const g = group ?? world;
  if (!g) return;
  c10d.destroy(g.id);
  if (g === world) { world = null; setDefaultGroupInfo(null); }
}

export const isInitialized = (): boolean => world !== null;
function need(group?: ProcessGroup | null): ProcessGroup {
  const g = group ?? world;
  if (!g) throw new DistributedError("torchlight/distributed: the default process group is not initialised; call await initProcessGroup() first", "DIST_NOT_INITIALIZED");
  return g;
}
/** This process's rank in `group` (default: the world). */
export const getRank = (group?: ProcessGroup): number => need(group).rank;
/** The number of processes in `group` (default: the world). */
export const getWorldSize = (group?: ProcessGroup): number => need(group).size;
/** The default (world) group, or null. */
export const defaultGroup = (): ProcessGroup | null => world;


/**
 * A subgroup of the world's ranks (every rank of the world must call it, in the same order).
 * Returns null on ranks that are not members.
 */
export async function newGroup(ranks?: number[], opts: { timeoutMs?: number } = {}): Promise<ProcessGroup | null> {
  const w = need();
  const members = ranks ? [...ranks].sort((a, b) => a - b) : w.ranks;
  for (const r of members) if (!Number.isInteger(r) || r < 0 || r >= w.size) throw new DistributedError(`newGroup: rank ${r} is not in the world [0, ${w.size})`, "DIST_BAD_ARGUMENT");
  const tag = `group_${++subgroups}`;
  const timeoutMs = opts.timeoutMs ?? w.timeoutMs;
  const id = await c10d.newGroup(w.id, members, timeoutMs, w.rank, tag);
  if (id === 0) return null;
  return new ProcessGroup(id, members.indexOf(w.rank), members.length, members, timeoutMs, tag);
}

// ---- sequence numbers, call sites, diagnosis --------------------------------------------------

const HERE = new URL(".", import.meta.url).href;
/** The first stack frame outside torchlight/distributed: where the user called the collective. */
function callSite(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(1).map((l) => l.trim());
  const user = lines.find((l) => !l.includes(HERE) && !l.includes("node:internal")) ?? lines[0] ?? "";
  return user.replace(/^at /, "");
}

/**
 * Bookkeeping slots per rank and group: collective n's entry ("n signature @ site") lives in slot
 * n % SLOTS, so the store holds at most SLOTS × world-size entries per group however long the run
 * (one key per collective grew the store without bound). A slot read at collective n holds n (the
 * rank is there), a later one (it went past n, so it reached it), an earlier one or nothing (it has
 * not reached n).
 */
const SLOTS = 64;
const slotKeys = (g: ProcessGroup, seq: number) => g.ranks.map((_, r) => `tl_seq/${g.id}/${seq % SLOTS}/${r}`);
type Slot = { reached: false } | { reached: true; call: string | null };
/** What a rank's slot says of collective `seq`: whether it reached it, and its call there when the slot still holds it. */
function slotAt(v: string | null, seq: number): Slot {
  const space = v?.indexOf(" ") ?? -1;
  const n = space > 0 ? Number(v!.slice(0, space)) : NaN;
  if (!Number.isInteger(n) || n < seq) return { reached: false };
  return { reached: true, call: n === seq ? v!.slice(space + 1) : null };
}
const opOf = (call: string) => call.split(" @ ")[0];

/** Records "rank r reached collective n of this group as <signature>"; throws at once on a detected mismatch. */
function arrive(g: ProcessGroup, signature: string): { seq: number; site: string } {
  const seq = ++g.seq;
  const site = callSite();
  const keys = slotKeys(g, seq);
  const peers = c10d.storeSetGetNow(g.id, keys[g.rank]!, `${seq} ${signature} @ ${site}`, keys);
  const mismatch: Record<number, string> = {};
  peers.forEach((v, r) => { const s = slotAt(v, seq); if (s.reached && s.call !== null && opOf(s.call) !== signature) mismatch[r] = s.call; });
  if (Object.keys(mismatch).length) {
    throw new DistributedError(`${signature.split("(")[0]}: collective #${seq} does not match across ranks: rank ${g.rank} called ${signature} at ${site}, but ` +
      Object.entries(mismatch).map(([r, v]) => `rank ${r} called ${v}`).join("; ") + ". Every rank must call the same collectives in the same order with the same shapes.",
    "DIST_MISMATCH", { op: signature, seq, mismatch: Object.fromEntries(Object.entries(mismatch).map(([r, v]) => [Number(r), v])) });
  }
  return { seq, site };
}

function diagnose(g: ProcessGroup, op: string, seq: number, site: string, e: unknown): DistributedError {
  const msg = (e as Error).message ?? String(e);
  let seen: Slot[] = [];
  try { seen = c10d.storeGetNow(g.id, slotKeys(g, seq)).map((v) => slotAt(v, seq)); } catch { /* the store may be gone with rank 0 */ }
  const missing = seen.flatMap((s, r) => (s.reached ? [] : [r]));
  const mismatch: Record<number, string> = {};
  const me = seen[g.rank];
  const mine = me?.reached && me.call !== null ? opOf(me.call) : undefined;
  seen.forEach((s, r) => { if (s.reached && s.call !== null && mine !== undefined && opOf(s.call) !== mine) mismatch[r] = s.call; });
  const timedOut = /timed? ?out|timeout/i.test(msg);
  const code: DistributedErrorCode = Object.keys(mismatch).length ? "DIST_MISMATCH" : timedOut ? "DIST_TIMEOUT" : "DIST_PEER_FAILED";
  const who = missing.length ? ` Ranks that never reached it: ${missing.join(", ")}.` : "";
  const mm = Object.keys(mismatch).length ? ` Ranks that called something else at this point: ${Object.entries(mismatch).map(([r, v]) => `rank ${r}: ${v}`).join("; ")}.` : "";
  return new DistributedError(`${op} (collective #${seq} of group ${g.id}, rank ${g.rank}, called at ${site}) failed: ${msg}.${who}${mm}`, code, { op, seq, missingRanks: missing, mismatch }, { cause: e });
}

/** A collective in flight (from `{ async: true }`), as `torch.distributed.Work`. */
export class Work {
  private done = false;
  private readonly promise: Promise<void>;
  constructor(p: Promise<void>) { this.promise = p.finally(() => { this.done = true; }); this.promise.catch(() => undefined); }
  /** Resolves when the collective completed on this rank (rejects with its DistributedError). */
  wait(): Promise<void> { return this.promise; }
  isCompleted(): boolean { return this.done; }
}

const sig = (op: string, ts: Tensor[], extra = "") => `${op}(${ts.map((t) => `${t.dtype}[${t.shape.join(",")}]`).join(", ")}${extra})`;

function run(g: ProcessGroup, op: string, signature: string, start: () => Promise<void>, after?: () => void): Promise<void> {
  const { seq, site } = arrive(g, signature);
  const token = c10d.watchEnter(g.name, `${signature} @ ${site}`, seq);  // the watchdog says where this rank waits
  let p: Promise<void>;
  try { p = start(); } catch (e) { c10d.watchLeave(token); throw e; }
  return p.then(() => { c10d.watchLeave(token); after?.(); }, (e: unknown) => { c10d.watchLeave(token); throw diagnose(g, op, seq, site, e); });
}
function maybeAsync(p: Promise<void>, async: boolean | undefined): Promise<void> | Work {
  return async ? new Work(p) : p;
}

/** Options of the collectives. */
export interface CollectiveOptions { group?: ProcessGroup; async?: boolean }

/** Reduces `tensor` in place across the group (sum by default). */
export function allReduce(tensor: Tensor, opts: CollectiveOptions & { op?: ReduceOpName } = {}): Promise<void> | Work {
  checkOptions("allReduce", opts, ["group", "async", "op"], badArgument);
  const g = need(opts.group), op = opts.op ?? "sum";
  if (!Object.values(ReduceOp).includes(op)) throw new DistributedError(`allReduce: unknown op ${JSON.stringify(op)}; use one of ${Object.values(ReduceOp).join(", ")}`, "DIST_BAD_ARGUMENT");
  const p = run(g, "allReduce", sig("allReduce", [tensor], `, ${op}`), () => c10d.allReduce(g.id, [tensor], op === "avg" ? "sum" : op),
    op === "avg" ? () => { if (tensor.dtype.startsWith("float") || tensor.dtype === "bfloat16") torch.noGrad(() => tensor.div_(g.size)); else torch.noGrad(() => { const q = tensor.div(g.size, "trunc"); tensor.copy_(q); q.dispose(); }); } : undefined);
  return maybeAsync(p, opts.async);
}

/** Copies `src`'s tensor into `tensor` on every rank. */
export function broadcast(tensor: Tensor, src: number, opts: CollectiveOptions = {}): Promise<void> | Work {
  checkOptions("broadcast", opts, ["group", "async"], badArgument);
  const g = need(opts.group);
  return maybeAsync(run(g, "broadcast", sig("broadcast", [tensor], `, src ${src}`), () => c10d.broadcast(g.id, [tensor], src)), opts.async);
}

/** Fills `tensorList[r]` with rank r's `tensor` on every rank. */
export function allGather(tensorList: Tensor[], tensor: Tensor, opts: CollectiveOptions = {}): Promise<void> | Work {
  checkOptions("allGather", opts, ["group", "async"], badArgument);
  const g = need(opts.group);
  if (tensorList.length !== g.size) throw new DistributedError(`allGather: tensorList must have one tensor per rank (${g.size}) but has ${tensorList.length}`, "DIST_BAD_ARGUMENT");
  return maybeAsync(run(g, "allGather", sig("allGather", [tensor]), () => c10d.allGather(g.id, tensorList, tensor)), opts.async);
}

/** Reduces `inputList` across ranks and leaves chunk `rank` of the result in `output`. */
export function reduceScatter(output: Tensor, inputList: Tensor[], opts: CollectiveOptions & { op?: ReduceOpName } = {}): Promise<void> | Work {
  checkOptions("reduceScatter", opts, ["group", "async", "op"], badArgument);
  const g = need(opts.group), op = opts.op ?? "sum";
  if (inputList.length !== g.size) throw new DistributedError(`reduceScatter: inputList must have one tensor per rank (${g.size}) but has ${inputList.length}`, "DIST_BAD_ARGUMENT");
  // Gloo has no reduce-scatter: all-reduce the stacked inputs and keep this rank's slice
  const stacked = torch.stack(inputList);
  const p = run(g, "reduceScatter", sig("reduceScatter", inputList, `, ${op}`), () => c10d.allReduce(g.id, [stacked], op === "avg" ? "sum" : op), () => {
    torch.noGrad(() => torch.tidy(() => {
      const mine = stacked.select(0, g.rank);
      output.copy_(op === "avg" ? mine.div(g.size) : mine);
    }));
  }).finally(() => stacked.dispose());
  return maybeAsync(p, opts.async);
}

/** Collects every rank's `tensor` into `gatherList` on `dst` (other ranks pass no list). */
export function gather(tensor: Tensor, opts: CollectiveOptions & { gatherList?: Tensor[]; dst?: number } = {}): Promise<void> | Work {
  checkOptions("gather", opts, ["group", "async", "gatherList", "dst"], badArgument);
  const g = need(opts.group), dst = opts.dst ?? 0;
  const list = g.rank === dst ? opts.gatherList ?? [] : [];
  if (g.rank === dst && list.length !== g.size) throw new DistributedError(`gather: the destination rank must pass a gatherList of ${g.size} tensors`, "DIST_BAD_ARGUMENT");
  return maybeAsync(run(g, "gather", sig("gather", [tensor], `, dst ${dst}`), () => c10d.gather(g.id, list, tensor, dst)), opts.async);
}

/** Sends `scatterList[r]` from `src` to rank r's `tensor`. */
export function scatter(tensor: Tensor, opts: CollectiveOptions & { scatterList?: Tensor[]; src?: number } = {}): Promise<void> | Work {
  checkOptions("scatter", opts, ["group", "async", "scatterList", "src"], badArgument);
  const g = need(opts.group), src = opts.src ?? 0;
  const list = g.rank === src ? opts.scatterList ?? [] : [];
  if (g.rank === src && list.length !== g.size) throw new DistributedError(`scatter: the source rank must pass a scatterList of ${g.size} tensors`, "DIST_BAD_ARGUMENT");
  return maybeAsync(run(g, "scatter", sig("scatter", [tensor], `, src ${src}`), () => c10d.scatter(g.id, tensor, list, src)), opts.async);
}

/** Waits until every rank of the group has called it. */
export function barrier(opts: CollectiveOptions = {}): Promise<void> | Work {
  checkOptions("barrier", opts, ["group", "async"], badArgument);
  const g = need(opts.group);
  return maybeAsync(run(g, "barrier", "barrier()", () => c10d.barrier(g.id)), opts.async);
}

/**
 * Before a send/recv pair, both sides publish what they will move (dtype and bytes) in the
 * store and check the other's: Gloo 1.13 aborts the whole process on a size mismatch in a
 * background thread, so a mismatch must be caught before the transfer is posted.
 */
const p2pCounters = new Map<string, number>();
async function handshake(g: ProcessGroup, t: Tensor, me: "send" | "recv", peer: number, tag: number): Promise<void> {
  if (!Number.isInteger(peer) || peer < 0 || peer >= g.size || peer === g.rank) {
    throw new DistributedError(`${me}: peer rank ${peer} must be another rank of the group [0, ${g.size})`, "DIST_BAD_ARGUMENT");
  }
  const [src, dst] = me === "send" ? [g.rank, peer] : [peer, g.rank];
  const base = `tl_p2p/${g.id}/${src}->${dst}/${tag}`;
  const k = p2pCounters.get(`${base}/${me}`) ?? 0;
  p2pCounters.set(`${base}/${me}`, k + 1);
  const what = `${t.dtype}[${t.shape.join(",")}]`;
  c10d.storeSet(g.id, `${base}/${k}/${me}`, what);
  let theirs: string;
  // the peer's key has one reader, this rank: taken as read, so the store does not grow with every transfer
  try { theirs = await c10d.storeGet(g.id, `${base}/${k}/${me === "send" ? "recv" : "send"}`, g.timeoutMs, true); } catch (e) {
    throw new DistributedError(`${me} ${me === "send" ? "to" : "from"} rank ${peer} (tag ${tag}): the peer did not post the matching ${me === "send" ? "recv" : "send"} in time: ${(e as Error).message}`, "DIST_TIMEOUT", { op: me }, { cause: e });
  }
  if (theirs !== what) {
    throw new DistributedError(`${me} ${me === "send" ? "to" : "from"} rank ${peer} (tag ${tag}): this rank moves ${what} but the peer's ${me === "send" ? "recv" : "send"} is ${theirs}; both sides need the same dtype and shape`, "DIST_MISMATCH", { op: me });
  }
}

/** Point to point: sends `tensor` to rank `dst` (matched by a recv with the same tag, dtype and shape). */
export async function send(tensor: Tensor, dst: number, opts: { group?: ProcessGroup; tag?: number } = {}): Promise<void> {
  const g = need(opts.group), tag = opts.tag ?? 0;
  await handshake(g, tensor, "send", dst, tag);
  return c10d.send(g.id, tensor, dst, tag).catch((e: unknown) => { throw new DistributedError(`send to rank ${dst} failed: ${(e as Error).message}`, "DIST_PEER_FAILED", { op: "send" }, { cause: e }); });
}
/** Point to point: receives into `tensor` from rank `src`. */
export async function recv(tensor: Tensor, src: number, opts: { group?: ProcessGroup; tag?: number } = {}): Promise<void> {
  const g = need(opts.group), tag = opts.tag ?? 0;
  await handshake(g, tensor, "recv", src, tag);
  return c10d.recv(g.id, tensor, src, tag).catch((e: unknown) => { throw new DistributedError(`recv from rank ${src} failed: ${(e as Error).message}`, "DIST_PEER_FAILED", { op: "recv" }, { cause: e }); });
}

// ---- objects (JSON through uint8 tensors; Python pickles) ------------------------------------

const encoder = new TextEncoder(), decoder = new TextDecoder();
const bytesOf = (obj: unknown) => encoder.encode(JSON.stringify(obj === undefined ? null : obj));

/** `src`'s JSON-serialisable value on every rank (returned). */
export async function broadcastObject<T>(obj: T, src: number, opts: { group?: ProcessGroup } = {}): Promise<T> {
  const g = need(opts.group);
  const mine = g.rank === src ? bytesOf(obj) : new Uint8Array(0);
  const size = torch.tensor(BigInt64Array.of(BigInt(mine.length)));
  await broadcast(size, src, opts);
  const n = Number((size.data() as BigInt64Array)[0]);
  size.dispose();
  const buf = g.rank === src ? torch.tensor(mine) : torch.zeros([n], { dtype: "uint8" });
  await broadcast(buf, src, opts);
  const out = JSON.parse(decoder.decode(buf.data() as Uint8Array)) as T;
  buf.dispose();
  return out;
}

/** Every rank's JSON-serialisable value, in rank order. */
export async function allGatherObject<T>(obj: T, opts: { group?: ProcessGroup } = {}): Promise<T[]> {
  const g = need(opts.group);
  const mine = bytesOf(obj);
  const size = torch.tensor(BigInt64Array.of(BigInt(mine.length)));
  const sizes = Array.from({ length: g.size }, () => torch.zeros([1], { dtype: "int64" }));
  await allGather(sizes, size, opts);
  const lens = sizes.map((s) => Number((s.data() as BigInt64Array)[0]));
  const max = Math.max(...lens);
  const padded = torch.zeros([max], { dtype: "uint8" });
  if (mine.length) torch.tidy(() => { padded.narrow(0, 0, mine.length).copy_(torch.tensor(mine)); });
  const outs = Array.from({ length: g.size }, () => torch.zeros([max], { dtype: "uint8" }));
  await allGather(outs, padded, opts);
  const res = outs.map((t, r) => JSON.parse(decoder.decode((t.data() as Uint8Array).subarray(0, lens[r]))) as T);
  torch.dispose([size, sizes, padded, outs]);
  return res;
}
