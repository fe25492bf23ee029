/**
 * @module torchlight/torch/nn/transformer: MultiheadAttention and TransformerEncoderLayer,
 * following PyTorch's `F.multi_head_attention_forward` op for op (its general path).
 */
import { zeros } from "../creation.js";
import { ops } from "../native/index.js";
import { wrap, type Tensor } from "../tensor.js";
import * as F from "./functional.js";
import * as init from "./init.js";
import { Module, type Parameter } from "./module.js";
import { Dropout, LayerNorm, Linear, emptyParameter, type FactoryOptions } from "./layers.js";

/** Options of {@link MultiheadAttention.forward}. */
export interface AttentionOptions {
  /** (N, S): true (or -inf) where a key is padding. */
  keyPaddingMask?: Tensor | null;
  needWeights?: boolean;
  /** (L, S) or (N·heads, L, S): true (or -inf) where attention is not allowed. */
  attnMask?: Tensor | null;
  averageAttnWeights?: boolean;
}

/**
 * Multi-head attention with packed input projections (`in_proj_weight`), as PyTorch's
 * default (`kdim == vdim == embedDim`). Input (L, N, E), or (N, L, E) with `batchFirst`.
 */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  out_proj: Linear;  // PyTorch's name, so stateDict keys match
  constructor(readonly embedDim: number, readonly numHeads: number,
    opts: { dropout?: number; bias?: boolean; batchFirst?: boolean; kdim?: number; vdim?: number; addBiasKv?: boolean; addZeroAttn?: boolean } & FactoryOptions = {}) {
    super();
    this.headDim = Math.floor(embedDim / numHeads);
    if (this.headDim * numHeads !== embedDim) throw new TypeError(`MultiheadAttention: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    if ((opts.kdim !== undefined && opts.kdim !== embedDim) || (opts.vdim !== undefined && opts.vdim !== embedDim)) {
      throw new TypeError("MultiheadAttention: kdim/vdim different from embedDim (separate q/k/v projections) are not supported yet; project keys and values to embedDim first");
    }
    if (opts.addBiasKv || opts.addZeroAttn) throw new TypeError("MultiheadAttention: addBiasKv and addZeroAttn are not supported yet");
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    const bias = opts.bias ?? true;
    // registration order and random draws as PyTorch: in_proj_weight, in_proj_bias, out_proj
    // (whose Linear init draws first), then _reset_parameters
    this.registerParameter("in_proj_weight", emptyParameter([3 * embedDim, embedDim], opts));
    this.registerParameter("in_proj_bias", bias ? emptyParameter([3 * embedDim], opts) : null);
    this.out_proj = new Linear(embedDim, embedDim, { bias, ...opts });
    init.xavierUniform_(this.inProjWeight);
    if (this.inProjBias) {
      init.constant_(this.inProjBias, 0);
      init.constant_(this.out_proj.bias!, 0);
    }
  }
  get inProjWeight(): Parameter { return this._registered.get("in_proj_weight") as Parameter; }
  get inProjBias(): Parameter | null { return (this._registered.get("in_proj_bias") ?? null) as Parameter | null; }
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
    const [out, w] = multiHeadAttentionForward(query, key, value, this.embedDim, this.numHeads, this.inProjWeight, this.inProjBias,
      this.dropout, this.out_proj.weight, this.out_proj.bias, this.training, opts);
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

/** `F.multi_head_attention_forward` (packed projections): inputs (L, N, E) or unbatched (L, E). */
export function multiHeadAttentionForward(query: Tensor, key: Tensor, value: Tensor, embedDim: number, numHeads: number,
  inProjWeight: Tensor, inProjBias: Tensor | null, dropoutP: number, outProjWeight: Tensor, outProjBias: Tensor | null,
  training: boolean, opts: AttentionOptions = {}): [Tensor, Tensor | null] {
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
  const ks = key.shape, vs = value.shape;
  if (ks.length !== vs.length || ks.some((d, i) => d !== vs[i])) throw new TypeError(`MultiheadAttention: key shape [${ks.join(", ")}] does not match value shape [${vs.join(", ")}]`);
  const headDim = Math.floor(embedDim / numHeads);
  let [q, k, v] = inProjectionPacked(query, key, value, inProjWeight, inProjBias);
  const srcLen = key.size(0);
  if (attnMask) {
    if (attnMask.dtype === "uint8") attnMask = attnMask.to("bool");
    if (attnMask.ndim === 2) {
      if (attnMask.size(0) !== tgtLen || attnMask.size(1) !== srcLen) throw new TypeError(`MultiheadAttention: the shape of the 2D attnMask is [${attnMask.shape.join(", ")}], but should be [${tgtLen}, ${srcLen}]`);
      attnMask = attnMask.unsqueeze(0);
    } else if (attnMask.ndim === 3) {
      const want = [bsz * numHeads, tgtLen, srcLen];
      if (attnMask.shape.some((d, i) => d !== want[i])) throw new TypeError(`MultiheadAttention: the shape of the 3D attnMask is [${attnMask.shape.join(", ")}], but should be [${want.join(", ")}]`);
    } else throw new TypeError(`MultiheadAttention: attnMask's dimension ${attnMask.ndim} is not supported`);
  }
  q = q.contiguous().view(tgtLen, bsz * numHeads, headDim).transpose(0, 1);
  k = k.contiguous().view(k.size(0), bsz * numHeads, headDim).transpose(0, 1);
  v = v.contiguous().view(v.size(0), bsz * numHeads, headDim).transpose(0, 1);
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
  const p = training ? dropoutP : 0;
  const qScaled = q.div(Math.sqrt(q.size(2)));
  const kt = k.transpose(-2, -1);
  let weights = attnMask ? wrap(ops.baddbmm(attnMask._h, qScaled._h, kt._h)) : qScaled.bmm(kt);
  weights = weights.softmax(-1);
  if (p > 0) weights = F.dropout(weights, p);
  let out = weights.bmm(v);
  out = out.transpose(0, 1).contiguous().view(tgtLen * bsz, embedDim);
  out = F.linear(out, outProjWeight, outProjBias);
  out = out.view(tgtLen, bsz, out.size(1));
  if (opts.needWeights ?? true) {
    weights = weights.view(bsz, numHeads, tgtLen, weights.size(-1));
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
  constructor(readonly dModel: number, readonly nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super();
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
