/**
 * @module torchlight/torch/nn/transformer: MultiheadAttention and TransformerEncoderLayer,
 * following PyTorch's `F.multi_head_attention_forward` op for op (its general path).
 */
import { zeros } from "../creation.js";
import { ops } from "../native/index.js";
import { wrap, type Tensor } from "../tensor.js";
import { cat } from "../functional.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, type Parameter } from "./module.js";
import { Dropout, LayerNorm, Linear, emptyParameter, type FactoryOptions } from "./layers.js";
import { TorchArgumentError } from "../errors.js";
import { pyArgs, required } from "../../util/validate.js";

/** Options of {@link MultiheadAttention.forward}. */
export interface AttentionOptions {
  /** (N, S): true (or -inf) where a key is padding. */
  keyPaddingMask?: Tensor | null;
  needWeights?: boolean;
  /** (L, S) or (N·heads, L, S): true (or -inf) where attention is not allowed. */
  attnMask?: Tensor | null;
  averageAttnWeights?: boolean;
}

/** Options of {@link MultiheadAttention}, as PyTorch's keyword arguments. */
export interface MultiheadAttentionOptions extends FactoryOptions {
  dropout?: number; bias?: boolean; addBiasKv?: boolean; addZeroAttn?: boolean; kdim?: number; vdim?: number; batchFirst?: boolean;
}

/**
 * Multi-head attention, as `nn.MultiheadAttention`: packed input projections
 * (`in_proj_weight`) when keys and values have `embedDim` features, separate ones
 * (`q_proj_weight`, `k_proj_weight`, `v_proj_weight`) for other `kdim`/`vdim`; optional
 * learned key/value biases (`bias_k`, `bias_v`) and a zero attention slot.
 * Input (L, N, E), or (N, L, E) with `batchFirst`.
 */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly addZeroAttn: boolean;
  out_proj: Linear;  // PyTorch's name, so stateDict keys match
  readonly embedDim: number;
  readonly numHeads: number;
  constructor(embedDim: number, numHeads: number, opts?: MultiheadAttentionOptions);
  constructor(opts: MultiheadAttentionOptions & { embedDim: number; numHeads: number });
  constructor(...args: unknown[]) {
    super();
    const { embedDim, numHeads, ...rest } = pyArgs("MultiheadAttention", ["embedDim", "numHeads"], args,
      ["dropout", "bias", "addBiasKv", "addZeroAttn", "kdim", "vdim", "batchFirst", "dtype", "device"], (m) => new TorchArgumentError(m, "MultiheadAttention")) as unknown as MultiheadAttentionOptions & { embedDim: number; numHeads: number };
    const opts: MultiheadAttentionOptions = rest;
    this.embedDim = required("MultiheadAttention", "embedDim", embedDim); this.numHeads = required("MultiheadAttention", "numHeads", numHeads);
    this.headDim = Math.floor(embedDim / numHeads);
    if (this.headDim * numHeads !== embedDim) throw new TypeError(`MultiheadAttention: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    this.addZeroAttn = opts.addZeroAttn ?? false;
    const bias = opts.bias ?? true;
    const fo: FactoryOptions = { ...(opts.dtype ? { dtype: opts.dtype } : {}), ...(opts.device ? { device: opts.device } : {}) };
    // registration order and random draws as PyTorch's __init__ and _reset_parameters
    if (this.packed) {
      this.registerParameter("in_proj_weight", emptyParameter([3 * embedDim, embedDim], fo));
    } else {
      this.registerParameter("q_proj_weight", emptyParameter([embedDim, embedDim], fo));
      this.registerParameter("k_proj_weight", emptyParameter([embedDim, this.kdim], fo));
      this.registerParameter("v_proj_weight", emptyParameter([embedDim, this.vdim], fo));
    }
    this.registerParameter("in_proj_bias", bias ? emptyParameter([3 * embedDim], fo) : null);
    this.out_proj = new Linear(embedDim, embedDim, { bias, ...fo });
    if (opts.addBiasKv) {
      this.registerParameter("bias_k", emptyParameter([1, 1, embedDim], fo));
      this.registerParameter("bias_v", emptyParameter([1, 1, embedDim], fo));
    }
    if (this.packed) init.xavierUniform_(this.p("in_proj_weight")!);
    else for (const n of ["q_proj_weight", "k_proj_weight", "v_proj_weight"]) init.xavierUniform_(this.p(n)!);
    if (bias) {
      init.constant_(this.p("in_proj_bias")!, 0);
      init.constant_(this.out_proj.bias!, 0);
    }
    if (opts.addBiasKv) { init.xavierNormal_(this.p("bias_k")!); init.xavierNormal_(this.p("bias_v")!); }
  }
  /** Whether q, k and v share one packed projection (kdim == vdim == embedDim). */
  get packed(): boolean { return this.kdim === this.embedDim && this.vdim === this.embedDim; }
  private p(name: string): Parameter | null { return (this._registered.get(name) ?? null) as Parameter | null; }
  get inProjWeight(): Parameter | null { return this.p("in_proj_weight"); }
  get inProjBias(): Parameter | null { return this.p("in_proj_bias"); }
  get biasK(): Parameter | null { return this.p("bias_k"); }
  get biasV(): Parameter | null { return this.p("bias_v"); }
  get outProj(): Linear { return this.out_proj; }

  /** Returns `[output, weights]`; weights are null unless `needWeights` (default true). */
  override forward(query: Tensor, key: Tensor, value: Tensor, opts: AttentionOptions = {}): [Tensor, Tensor | null] {
    const batched = query.ndim === 3;
    if (this.batchFirst && batched) {
      if (key === value) {
        if (query === key) { query = key = value = query.transpose(1, 0); }
        else { query = query.transpose(1, 0); key = value = key.transpose(1, 0); }
      } else { query = query.transpose(1, 0); key = key.transpose(1, 0); value = value.transpose(1, 0); }
    }
    const [out, w] = multiHeadAttentionForward(query, key, value, {
      embedDim: this.embedDim, numHeads: this.numHeads, inProjWeight: this.inProjWeight, inProjBias: this.inProjBias,
      qProjWeight: this.p("q_proj_weight"), kProjWeight: this.p("k_proj_weight"), vProjWeight: this.p("v_proj_weight"),
      biasK: this.biasK, biasV: this.biasV, addZeroAttn: this.addZeroAttn, dropoutP: this.dropout,
      outProjWeight: this.out_proj.weight, outProjBias: this.out_proj.bias, training: this.training,
    }, opts);
    return [this.batchFirst && batched ? out.transpose(1, 0) : out, w];
  }
  override extraRepr(): string { return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, batchFirst=${this.batchFirst}`; }
}

function inProjectionPacked(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Tensor | null): [Tensor, Tensor, Tensor] {
  const E = q.size(-1);
  if (k === v) {
    if (q === k) return F.linear(q, w, b).chunk(3, -1) as [Tensor, Tensor, Tensor];
    const [wq, wkv] = w.split([E, E * 2]) as [Tensor, Tensor];
    const [bq, bkv] = b === null ? [null, null] : (b.split([E, E * 2]) as [Tensor, Tensor]);
    const [kk, vv] = F.linear(k, wkv, bkv).chunk(2, -1) as [Tensor, Tensor];
    return [F.linear(q, wq, bq), kk, vv];
  }
  const [wq, wk, wv] = w.chunk(3) as [Tensor, Tensor, Tensor];
  const [bq, bk, bv] = b === null ? [null, null, null] : (b.chunk(3) as [Tensor, Tensor, Tensor]);
  return [F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)];
}

/** The weights of {@link multiHeadAttentionForward}: packed (`inProjWeight`) or separate (`q/k/vProjWeight`). */
export interface AttentionWeights {
  embedDim: number; numHeads: number;
  inProjWeight?: Tensor | null; inProjBias?: Tensor | null;
  qProjWeight?: Tensor | null; kProjWeight?: Tensor | null; vProjWeight?: Tensor | null;
  biasK?: Tensor | null; biasV?: Tensor | null; addZeroAttn?: boolean;
  dropoutP?: number; outProjWeight: Tensor; outProjBias?: Tensor | null; training?: boolean;
}

/** `F.multi_head_attention_forward`: inputs (L, N, E) or unbatched (L, E). */
export function multiHeadAttentionForward(query: Tensor, key: Tensor, value: Tensor, w: AttentionWeights, opts: AttentionOptions = {}): [Tensor, Tensor | null] {
  const { embedDim, numHeads } = w;
  const batched = query.ndim === 3;
  let keyPaddingMask = opts.keyPaddingMask ?? null;
  let attnMask = opts.attnMask ?? null;
  if (!batched) {
    if (query.ndim !== 2) throw new TypeError(`MultiheadAttention: expected query of 2 (unbatched) or 3 (batched) dimensions but received ${query.ndim}`);
    query = query.unsqueeze(1); key = key.unsqueeze(1); value = value.unsqueeze(1);
    if (keyPaddingMask) keyPaddingMask = keyPaddingMask.unsqueeze(0);
  }
  const [tgtLen, bsz, E] = query.shape as [number, number, number];
  if (E !== embedDim) throw new TypeError(`MultiheadAttention: was expecting embedding dimension of ${embedDim}, but got ${E}`);
  const headDim = Math.floor(embedDim / numHeads);
  const ks = key.shape, vs = value.shape;
  let q: Tensor, k: Tensor, v: Tensor;
  if (w.inProjWeight) {
    if (ks.length !== vs.length || ks.some((d, i) => d !== vs[i])) throw new TypeError(`MultiheadAttention: key shape [${ks.join(", ")}] does not match value shape [${vs.join(", ")}]`);
    [q, k, v] = inProjectionPacked(query, key, value, w.inProjWeight, w.inProjBias ?? null);
  } else {
    if (!w.qProjWeight || !w.kProjWeight || !w.vProjWeight) throw new TypeError("MultiheadAttention: give either inProjWeight or all of qProjWeight, kProjWeight, vProjWeight");
    if (ks[0] !== vs[0] || ks[1] !== vs[1]) throw new TypeError(`MultiheadAttention: key's sequence and batch dims [${ks.slice(0, 2).join(", ")}] do not match value's [${vs.slice(0, 2).join(", ")}]`);
    const [bq, bk, bv] = w.inProjBias ? (w.inProjBias.chunk(3) as [Tensor, Tensor, Tensor]) : [null, null, null];
    q = F.linear(query, w.qProjWeight, bq); k = F.linear(key, w.kProjWeight, bk); v = F.linear(value, w.vProjWeight, bv);
  }
  if (attnMask) {
    if (attnMask.dtype === "uint8") attnMask = attnMask.to("bool");
    const srcLen0 = key.size(0);
    if (attnMask.ndim === 2) {
      if (attnMask.size(0) !== tgtLen || attnMask.size(1) !== srcLen0) throw new TypeError(`MultiheadAttention: the shape of the 2D attnMask is [${attnMask.shape.join(", ")}], but should be [${tgtLen}, ${srcLen0}]`);
      attnMask = attnMask.unsqueeze(0);
    } else if (attnMask.ndim === 3) {
      const want = [bsz * numHeads, tgtLen, srcLen0];
      if (attnMask.shape.some((d, i) => d !== want[i])) throw new TypeError(`MultiheadAttention: the shape of the 3D attnMask is [${attnMask.shape.join(", ")}], but should be [${want.join(", ")}]`);
    } else throw new TypeError(`MultiheadAttention: attnMask's dimension ${attnMask.ndim} is not supported`);
  }
  if (w.biasK && w.biasV) {
    k = cat([k, w.biasK.repeat(1, bsz, 1)]);
    v = cat([v, w.biasV.repeat(1, bsz, 1)]);
    if (attnMask) attnMask = F.pad(attnMask, [0, 1]);
    if (keyPaddingMask) keyPaddingMask = F.pad(keyPaddingMask, [0, 1]);
  }
  q = q.contiguous().view(tgtLen, bsz * numHeads, headDim).transpose(0, 1);
  k = k.contiguous().view(k.size(0), bsz * numHeads, headDim).transpose(0, 1);
  v = v.contiguous().view(v.size(0), bsz * numHeads, headDim).transpose(0, 1);
  if (w.addZeroAttn) {
    k = cat([k, zeros([bsz * numHeads, 1, headDim], { dtype: k.dtype, device: k.device })], 1);
    v = cat([v, zeros([bsz * numHeads, 1, headDim], { dtype: v.dtype, device: v.device })], 1);
    if (attnMask) attnMask = F.pad(attnMask, [0, 1]);
    if (keyPaddingMask) keyPaddingMask = F.pad(keyPaddingMask, [0, 1]);
  }
  const srcLen = k.size(1);
  if (keyPaddingMask) {
    if (keyPaddingMask.size(0) !== bsz || keyPaddingMask.size(1) !== srcLen) throw new TypeError(`MultiheadAttention: expecting keyPaddingMask shape of [${bsz}, ${srcLen}], but got [${keyPaddingMask.shape.join(", ")}]`);
    keyPaddingMask = keyPaddingMask.view(bsz, 1, 1, srcLen).expand(-1, numHeads, -1, -1).reshape(bsz * numHeads, 1, srcLen);
    if (attnMask === null) attnMask = keyPaddingMask;
    else if (attnMask.dtype === "bool") attnMask = wrap(ops.logical_or(attnMask._h, keyPaddingMask._h));
    else attnMask = attnMask.maskedFill(keyPaddingMask, -Infinity);
  }
  if (attnMask && attnMask.dtype === "bool") {
    const m = zeros(attnMask.shape, { dtype: q.dtype });
    m.maskedFill_(attnMask, -Infinity);
    attnMask = m;
  }
  const p = w.training ?? true ? w.dropoutP ?? 0 : 0;
  const qScaled = q.div(Math.sqrt(q.size(2)));
  const kt = k.transpose(-2, -1);
  let weights = attnMask ? wrap(ops.baddbmm(attnMask._h, qScaled._h, kt._h)) : qScaled.bmm(kt);
  weights = weights.softmax(-1);
  if (p > 0) weights = F.dropout(weights, p);
  let out = weights.bmm(v);
  out = out.transpose(0, 1).contiguous().view(tgtLen * bsz, embedDim);
  out = F.linear(out, w.outProjWeight, w.outProjBias ?? null);
  out = out.view(tgtLen, bsz, out.size(1));
  if (opts.needWeights ?? true) {
    weights = weights.view(bsz, numHeads, tgtLen, srcLen);
    if (opts.averageAttnWeights ?? true) weights = weights.sum(1).div(numHeads);
    if (!batched) { out = out.squeeze(1); weights = weights.squeeze(0); }
    return [out, weights];
  }
  return [batched ? out : out.squeeze(1), null];
}

/** Options of {@link TransformerEncoderLayer}, as PyTorch's keyword arguments. */
export interface TransformerEncoderLayerOptions extends FactoryOptions {
  dimFeedforward?: number; dropout?: number; activation?: "relu" | "gelu"; layerNormEps?: number; batchFirst?: boolean; normFirst?: boolean;
}

/** Self-attention then feed-forward, each with a residual connection and LayerNorm. */
export class TransformerEncoderLayer extends Module {
  self_attn: MultiheadAttention;  // PyTorch's name, so stateDict keys match
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: "relu" | "gelu";
  readonly dModel: number;
  readonly nhead: number;
  constructor(dModel: number, nhead: number, opts?: TransformerEncoderLayerOptions);
  constructor(opts: TransformerEncoderLayerOptions & { dModel: number; nhead: number });
  constructor(...args: unknown[]) {
    super();
    const { dModel, nhead, ...opts } = pyArgs("TransformerEncoderLayer", ["dModel", "nhead"], args,
      ["dimFeedforward", "dropout", "activation", "layerNormEps", "batchFirst", "normFirst", "dtype", "device"], (m) => new TorchArgumentError(m, "TransformerEncoderLayer")) as unknown as TransformerEncoderLayerOptions & { dModel: number; nhead: number };
    this.dModel = required("TransformerEncoderLayer", "dModel", dModel); this.nhead = required("TransformerEncoderLayer", "nhead", nhead);
    const p = opts.dropout ?? 0.1, ff = opts.dimFeedforward ?? 2048, eps = opts.layerNormEps ?? 1e-5;
    const fo: FactoryOptions = { ...(opts.dtype ? { dtype: opts.dtype } : {}), ...(opts.device ? { device: opts.device } : {}) };
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout: p, batchFirst: opts.batchFirst ?? false, ...fo });
    this.linear1 = new Linear(dModel, ff, fo);
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, fo);
    this.normFirst = opts.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps, ...fo });
    this.norm2 = new LayerNorm(dModel, { eps, ...fo });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.activation = opts.activation ?? "relu";
    if (this.activation !== "relu" && this.activation !== "gelu") throw new TypeError(`TransformerEncoderLayer: activation should be "relu" or "gelu", not ${JSON.stringify(this.activation)}`);
  }
  get selfAttn(): MultiheadAttention { return this.self_attn; }
  override forward(src: Tensor, opts: { srcMask?: Tensor | null; srcKeyPaddingMask?: Tensor | null } = {}): Tensor {
    const sa = (x: Tensor) => this.dropout1.forward(this.self_attn.forward(x, x, x,
      { attnMask: opts.srcMask ?? null, keyPaddingMask: opts.srcKeyPaddingMask ?? null, needWeights: false })[0]);
    const ffb = (x: Tensor) => {
      const h = this.linear1.forward(x);
      return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.activation === "relu" ? h.relu() : F.gelu(h))));
    };
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(ffb(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(sa(x)));
      x = this.norm2.forward(x.add(ffb(x)));
    }
    return x;
  }
}
