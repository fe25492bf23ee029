// Every layer and loss against Python PyTorch on the same libtorch: default initialisation
// (bit-exact after the same seed), outputs, parameter and input gradients, and buffers.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { nn, type Tensor } from "../../src/torch/index.js";
import { assertMatches, assertNoLeak, decode, liveTensors, pythonReference, type Encoded } from "../helpers.js";

interface Case {
  seed: number; init: Record<string, Encoded>; inputs: Encoded[]; output: Encoded; weights?: Encoded;
  grads: Record<string, Encoded>; input_grad: Encoded | null; buffers: Record<string, Encoded>;
}
type Make = () => nn.Module;
const f32 = (xs: number[]) => torch.tensor(xs);

// The modules of test/parity/nn_reference.py, built the same way in torchlight.
const CASES: Record<string, Make> = {
  linear: () => new nn.Linear(5, 3),
  linear_nobias: () => new nn.Linear(5, 3, { bias: false }),
  bilinear: () => new nn.Bilinear(3, 4, 2),
  conv1d: () => new nn.Conv1d(2, 3, 3, { stride: 2, padding: 1 }),
  conv2d: () => new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1, bias: false }),
  conv2d_groups: () => new nn.Conv2d(4, 6, [3, 1], { groups: 2 }),
  conv_transpose2d: () => new nn.ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }),
  batchnorm1d: () => new nn.BatchNorm1d(4),
  batchnorm2d: () => new nn.BatchNorm2d(3, { momentum: null }),
  batchnorm2d_eval: () => new nn.BatchNorm2d(3),
  layernorm: () => new nn.LayerNorm([4, 5]),
  groupnorm: () => new nn.GroupNorm(2, 4),
  embedding: () => new nn.Embedding(10, 3, { paddingIdx: 0 }),
  dropout: () => new nn.Dropout(0.3),
  relu: () => new nn.ReLU(),
  leaky_relu: () => new nn.LeakyReLU(0.2),
  gelu: () => new nn.GELU(),
  gelu_tanh: () => new nn.GELU("tanh"),
  silu: () => new nn.SiLU(),
  tanh: () => new nn.Tanh(),
  sigmoid: () => new nn.Sigmoid(),
  softmax: () => new nn.Softmax(1),
  log_softmax: () => new nn.LogSoftmax(0),
  maxpool2d: () => new nn.MaxPool2d(2),
  maxpool2d_pad: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
  avgpool2d: () => new nn.AvgPool2d(2),
  adaptive_avgpool2d: () => new nn.AdaptiveAvgPool2d([2, 3]),
  flatten: () => new nn.Flatten(),
  identity: () => new nn.Identity(),
  sequential: () => new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Dropout(0), new nn.Linear(8, 3)),
  mha: () => new nn.MultiheadAttention(8, 2),
  mha_mask: () => new nn.MultiheadAttention(8, 4, { batchFirst: true }),
  mha_kdim: () => new nn.MultiheadAttention(8, 2, { kdim: 5, vdim: 6 }),
  mha_bias_kv: () => new nn.MultiheadAttention(8, 2, { addBiasKv: true, addZeroAttn: true }),
  transformer_layer: () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 }),
  transformer_layer_norm_first_gelu: () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: "gelu", normFirst: true, batchFirst: true }),
  cross_entropy: () => new nn.CrossEntropyLoss(),
  cross_entropy_opts: () => new nn.CrossEntropyLoss({ weight: f32([1, 2, 0.5, 1.5]), ignoreIndex: 1, labelSmoothing: 0.1 }),
  cross_entropy_probs: () => new nn.CrossEntropyLoss({ reduction: "sum" }),
  cross_entropy_2d: () => new nn.CrossEntropyLoss({ reduction: "none" }),
  nll: () => new nn.NLLLoss({ weight: f32([0.2, 1, 3]) }),
  mse: () => new nn.MSELoss(),
  mse_none: () => new nn.MSELoss({ reduction: "none" }),
  l1: () => new nn.L1Loss({ reduction: "sum" }),
  smooth_l1: () => new nn.SmoothL1Loss({ beta: 0.5 }),
  huber: () => new nn.HuberLoss({ delta: 0.7 }),
  bce: () => new nn.BCELoss({ weight: f32([1, 0.5, 2]) }),
  bce_logits: () => new nn.BCEWithLogitsLoss({ posWeight: f32([1, 3, 0.5]) }),
  kl_div: () => new nn.KLDivLoss({ reduction: "batchmean" }),
  kl_div_log_target: () => new nn.KLDivLoss({ reduction: "sum", logTarget: true }),
};

// Tolerances: initial weights are bit-exact (same generator, same draws). Forward and
// backward run the same ATen kernels; attention and transformer layers chain many ops and
// get 1e-5 relative slack for summation order.
const TOL: Record<string, [number, number]> = { mha: [1e-6, 1e-5], mha_mask: [1e-6, 1e-5], mha_kdim: [1e-6, 1e-5], mha_bias_kv: [1e-6, 1e-5], transformer_layer: [1e-5, 1e-5], transformer_layer_norm_first_gelu: [1e-5, 1e-5] };

describe("nn layers and losses match PyTorch", () => {
  let ref: { torch: string; cases: Record<string, Case>; inits: Record<string, Encoded> };
  let baseline = 0;
  before(() => { baseline = liveTensors(); ref = pythonReference("nn_reference.py"); });
  after(async () => { await assertNoLeak(baseline); });

  it("covers every Python case", () => {
    assert.deepEqual(Object.keys(CASES).sort(), Object.keys(ref.cases).sort());
  });

  const INITS: Record<string, [number, number[], (t: Tensor) => Tensor]> = {
    uniform: [60, [3, 4], (t) => nn.init.uniform_(t, -0.5, 2.0)],
    normal: [61, [3, 4], (t) => nn.init.normal_(t, 1.0, 0.5)],
    constant: [62, [2, 3], (t) => nn.init.constant_(t, 0.25)],
    xavier_uniform: [63, [5, 4, 3], (t) => nn.init.xavierUniform_(t, 2.0)],
    xavier_normal: [64, [5, 4], (t) => nn.init.xavierNormal_(t)],
    kaiming_uniform: [65, [6, 3, 2, 2], (t) => nn.init.kaimingUniform_(t, { a: 0.1, mode: "fan_out", nonlinearity: "leaky_relu" })],
    kaiming_normal: [66, [6, 3, 2, 2], (t) => nn.init.kaimingNormal_(t, { nonlinearity: "relu" })],
    trunc_normal: [67, [50], (t) => nn.init.truncNormal_(t, 0.5, 2.0, -1.0, 3.0)],
    trunc_normal_tail: [68, [200], (t) => nn.init.truncNormal_(t, 0, 1, 1.5, 4.0)],
  };
  it("nn.init functions draw what PyTorch draws (bit-exact; trunc_normal to 1 ulp)", () => {
    for (const [name, [seed, shape, fn]] of Object.entries(INITS)) {
      torch.tidy(() => {
        torch.manualSeed(seed);
        const tol = name.startsWith("trunc_normal") ? 1e-6 : 0;
        assertMatches(fn(torch.empty(shape)), ref.inits[name]!, `init ${name}`, tol, tol);
      });
    }
  });

  for (const [name, make] of Object.entries(CASES)) {
    it(name, () => {
      const c = ref.cases[name]!;
      const [atol, rtol] = TOL[name] ?? [1e-6, 1e-5];
      const m = torch.tidy(() => { torch.manualSeed(c.seed); return make(); });
      torch.tidy(() => {
        const sd = m.stateDict();
        assert.deepEqual(Object.keys(sd), Object.keys(c.init), "state dict keys and order");
        for (const [k, e] of Object.entries(c.init)) assertMatches(sd[k]!, e, `${name} init ${k}`, 0, 0);
        m.train(!name.endsWith("_eval"));
        const xs = c.inputs.map(decode);
        const x0 = xs[0]!.dtype.startsWith("float") ? xs[0]!.requiresGrad_() : xs[0]!;
        torch.manualSeed(c.seed + 1000);
        let y: Tensor, w: Tensor | null = null;
        if (m instanceof nn.MultiheadAttention) {
          if (name === "mha_kdim") [y, w] = m.forward(x0, xs[1]!, xs[2]!);
          else [y, w] = m.forward(x0, x0, x0, name === "mha_mask" ? { keyPaddingMask: xs[1]! } : name === "mha_bias_kv" ? { attnMask: xs[1]! } : {});
        } else y = m.forward(x0, ...xs.slice(1));
        assertMatches(y, c.output, `${name} output`, atol, rtol);
        if (c.weights) assertMatches(w!, c.weights, `${name} attention weights`, atol, rtol);
        const wt = y.ndim ? torch.linspace(-1, 1, y.numel()).reshape(y.shape) : torch.tensor(0.7);
        y.mul(wt).sum().backward();
        const named = Object.fromEntries(m.namedParameters());
        assert.deepEqual(Object.keys(c.grads).sort(), Object.keys(named).filter((k) => named[k]!.grad !== null).sort(), "parameters with grads");
        for (const [k, e] of Object.entries(c.grads)) assertMatches(named[k]!.grad!, e, `${name} grad ${k}`, atol * 10, rtol);
        if (c.input_grad) assertMatches(x0.grad!, c.input_grad, `${name} input grad`, atol * 10, rtol);
        const bufs = Object.fromEntries(m.namedBuffers());
        for (const [k, e] of Object.entries(c.buffers)) assertMatches(bufs[k]!, e, `${name} buffer ${k}`, atol, rtol);
      });
      torch.dispose([...m.parameters(), ...m.buffers()]);
    });
  }
});
