// nn.Module behaviour: PyTorch's dotted names and order, buffers, modes, hooks, to(),
// loadStateDict's strict and non-strict rules, bad input to layers, memory ownership.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { nn, type Tensor } from "../../src/torch/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

class Block extends nn.Module {
  conv1 = new nn.Conv2d(2, 2, 3, { padding: 1, bias: false });
  bn1 = new nn.BatchNorm2d(2);
  override forward(x: Tensor): Tensor { return this.bn1.forward(this.conv1.forward(x)).relu(); }
}
class Net extends nn.Module {
  stem = new nn.Conv2d(1, 2, 3, { padding: 1 });
  layer1 = new nn.Sequential(new Block(), new Block());
  heads = new nn.ModuleDict({ cls: new nn.Linear(2, 3) });
  scale: nn.Parameter;
  constructor() {
    super();
    this.scale = new nn.Parameter(torch.ones([1]));
    this.registerBuffer("step_count", torch.zeros([], { dtype: "int64" }));
    this.registerBuffer("cache", torch.zeros([2]), false);
  }
  override forward(x: Tensor): Tensor {
    const h = this.layer1.forward(this.stem.forward(x)).mean([2, 3]);
    return this.heads.get("cls")!.forward(h).mul(this.scale);
  }
}
const free = (m: nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);

describe("nn.Module", () => {
  let baseline = 0;
  before(() => { baseline = liveTensors(); });
  after(async () => { await assertNoLeak(baseline); });

  it("names parameters and buffers as PyTorch does, in registration order", () => {
    const net = new Net();
    // a module's own parameters first, then its children's, as named_parameters() walks named_modules()
    assert.deepEqual([...net.namedParameters()].map(([k]) => k), [
      "scale", "stem.weight", "stem.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
      "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias", "heads.cls.weight", "heads.cls.bias",
    ]);
    const sd = torch.tidy(() => Object.keys(net.stateDict()));
    assert.deepEqual(sd, ["scale", "step_count", "stem.weight", "stem.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
      "layer1.0.bn1.bias", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var", "layer1.0.bn1.num_batches_tracked",
      "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.bn1.running_mean",
      "layer1.1.bn1.running_var", "layer1.1.bn1.num_batches_tracked", "heads.cls.weight", "heads.cls.bias"]);
    assert.ok(!sd.includes("cache"), "non-persistent buffers stay out of stateDict");
    assert.equal([...net.namedBuffers()].length, 2 + 2 * 3);
    assert.deepEqual([...net.namedModules()].map(([k]) => k), ["", "stem", "layer1", "layer1.0", "layer1.0.conv1", "layer1.0.bn1",
      "layer1.1", "layer1.1.conv1", "layer1.1.bn1", "heads", "heads.cls"]);
    assert.equal([...net.children()].length, 3);
    free(net);
  });

  it("train/eval reach every submodule; apply visits children first", () => {
    const net = new Net();
    net.eval();
    assert.ok([...net.modules()].every((m) => !m.training));
    net.train();
    assert.ok([...net.modules()].every((m) => m.training));
    const seen: string[] = [];
    net.layer1.apply((m) => seen.push(m.constructor.name));
    assert.deepEqual(seen, ["Conv2d", "BatchNorm2d", "Block", "Conv2d", "BatchNorm2d", "Block", "Sequential"]);
    free(net);
  });

  it("modules made inside tidy keep their parameters; zeroGrad clears gradients", () => {
    const net = torch.tidy(() => new Net());
    assert.ok(net.parameters().every((p) => !p.isDisposed));
    torch.tidy(() => net.forward(torch.randn([2, 1, 4, 4])).sum().backward());
    assert.ok(net.parameters().every((p) => { const g = p.grad; const ok = g !== null; g?.dispose(); return ok; }));
    net.zeroGrad({ setToNone: false });
    const g = net.stem.weight.grad!;
    assert.equal(g.abs().sum().item(), 0);
    g.dispose();
    net.zeroGrad();
    assert.equal(net.stem.weight.grad, null);
    free(net);
  });

  it("to(dtype) converts floating parameters and buffers in place (same objects)", () => {
    const net = new Net();
    const w = net.stem.weight;
    net.to("float64");
    assert.equal(net.stem.weight, w);
    assert.equal(w.dtype, "float64");
    assert.equal((net.layer1.at(0) as Block).bn1.runningMean!.dtype, "float64");
    assert.equal((net.layer1.at(0) as Block).bn1.numBatchesTracked!.dtype, "int64");
    torch.tidy(() => assert.equal(net.forward(torch.randn([1, 1, 4, 4], { dtype: "float64" })).dtype, "float64"));
    free(net);
  });

  it("loadStateDict: strict errors list missing and unexpected keys; non-strict loads the rest", () => {
    const a = new Net(), b = new Net();
    torch.tidy(() => {
      const sd = a.stateDict();
      const partial: Record<string, Tensor> = { ...sd, extra: torch.zeros([1]) };
      delete partial["stem.bias"];
      assert.throws(() => b.loadStateDict(partial), (e: Error & { code?: string; missingKeys?: string[] }) =>
        e.code === "TORCH_STATE_DICT_MISMATCH" && /Missing key\(s\) in state_dict: "stem.bias"/.test(e.message) &&
        /Unexpected key\(s\) in state_dict: "extra"/.test(e.message) && /strict: false/.test(e.message) && e.missingKeys?.[0] === "stem.bias");
      assert.ok(!b.stem.weight.equal(a.stem.weight), "a failed strict load changes nothing");
      const res = b.loadStateDict(partial, { strict: false });
      assert.deepEqual(res, { missingKeys: ["stem.bias"], unexpectedKeys: ["extra"] });
      assert.ok(b.stem.weight.equal(a.stem.weight));
      const bad = { ...sd, "stem.weight": torch.zeros([3, 3]) };
      assert.throws(() => b.loadStateDict(bad, { strict: false }), /size mismatch for stem.weight: copying a param with shape \[3, 3\] from checkpoint, the shape in current model is \[2, 1, 3, 3\]/);
    });
    free(a); free(b);
  });

  it("forward hooks and pre-hooks run on forward() and can be removed", () => {
    const lin = new nn.Linear(3, 2);
    const calls: string[] = [];
    const pre = lin.registerForwardPreHook((_m, inputs) => { calls.push("pre"); return [(inputs[0] as Tensor).mul(0)]; });
    const post = lin.registerForwardHook((_m, _i, out) => { calls.push("post"); return (out as Tensor).add(1); });
    torch.tidy(() => {
      const y = lin.forward(torch.ones([1, 3]));
      assert.deepEqual(calls, ["pre", "post"]);
      assert.ok(y.allclose(lin.bias!.add(1).unsqueeze(0)));
    });
    pre.remove(); post.remove();
    torch.tidy(() => { lin.forward(torch.ones([1, 3])); });
    assert.equal(calls.length, 2);
    free(lin);
  });

  it("Parameter shares memory with its source and requires grad; Sequential/ModuleList/ModuleDict index", () => {
    const t = torch.zeros([2]);
    const p = new nn.Parameter(t);
    t.add_(1);
    assert.deepEqual(p.toArray(), [1, 1]);
    assert.equal(p.requiresGrad, true);
    t.dispose(); p.dispose();
    const seq = new nn.Sequential({ fc: new nn.Linear(2, 2), act: new nn.ReLU() });
    assert.deepEqual(torch.tidy(() => Object.keys(seq.stateDict())), ["fc.weight", "fc.bias"]);
    assert.ok(seq.at(-1) instanceof nn.ReLU);
    const list = new nn.ModuleList([new nn.Linear(1, 1)]).append(new nn.Linear(1, 2));
    assert.equal(list.length, 2);
    assert.deepEqual([...list].map((m) => m.outFeatures), [1, 2]);
    assert.match(String(seq), /Sequential\(\n  \(fc\): Linear\(inFeatures=2, outFeatures=2, bias=true\)\n  \(act\): ReLU\(\)\n\)/);
    free(seq); free(list);
  });

  it("bad input to layers is a clear error and nothing aborts", () => {
    const lin = new nn.Linear(4, 2), conv = new nn.Conv2d(3, 4, 3), bn = new nn.BatchNorm2d(3), emb = new nn.Embedding(5, 2);
    torch.tidy(() => {
      assert.throws(() => lin.forward(torch.zeros([2, 5])), /Linear: expected input with inFeatures=4 in dimension -1 but the input has shape \[2, 5\]/);
      assert.throws(() => conv.forward(torch.zeros([1, 2, 5, 5])), /Conv2d: expected input with inChannels=3/);
      assert.throws(() => conv.forward(torch.zeros([5, 5])), /Conv2d: expected 3D \(unbatched\) or 4D \(batched\) input \(got 2D input/);
      assert.throws(() => bn.forward(torch.zeros([2, 3, 4])), /BatchNorm2d: expected 4D input \(got 3D input/);
      assert.throws(() => bn.forward(torch.zeros([1, 3, 1, 1])), /expected more than 1 value per channel when training/);
      assert.throws(() => emb.forward(torch.zeros([3])), /expected integer indices .*\.long\(\)/);
      assert.throws(() => emb.forward(torch.tensor([7], { dtype: "int64" })), (e: Error & { code?: string }) => e.code === "TORCH_INDEX_ERROR");
      assert.throws(() => new nn.Linear(0, 2), /Linear: expected a positive integer for inFeatures but received 0 of type number/);
      assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /inChannels \(3\) must be divisible by groups \(2\)/);
      assert.throws(() => new nn.MultiheadAttention(10, 3), /embedDim \(10\) must be divisible by numHeads \(3\)/);
      assert.throws(() => new nn.CrossEntropyLoss({ reduction: "avg" as never }), /expected reduction "none", "mean" or "sum"/);
      assert.throws(() => new nn.Sequential(42 as never), /expected an nn.Module but received number/);
      assert.throws(() => new nn.Module().forward(), (e: Error & { code?: string }) => e.code === "TORCH_NOT_IMPLEMENTED");
      assert.throws(() => new nn.MSELoss().forward(torch.zeros([2, 3]), torch.zeros([4])), /do not broadcast/);
    });
    for (const m of [lin, conv, bn, emb]) free(m);
  });

  it("clipGradNorm_ and clipGradValue_ match PyTorch's definitions", () => {
    const a = torch.tensor([3, 4]).requiresGrad_(), b = torch.tensor([12]).requiresGrad_();
    torch.tidy(() => { a.mul(a).sum().div(2).add(b.mul(b).sum().div(2)).backward(); });  // grads: [3, 4] and [12]
    const total = nn.utils.clipGradNorm_([a, b], 6.5);
    assert.equal(total.item(), 13);
    const ga = a.grad!, gb = b.grad!;
    assert.ok(Math.abs(ga.norm().item() ** 2 + gb.norm().item() ** 2 - 6.5 ** 2) < 1e-3);
    nn.utils.clipGradValue_([a, b], 1);
    assert.ok(ga.abs().max().item() <= 1 && gb.abs().max().item() <= 1);
    torch.dispose([a, b, total, ga, gb]);
  });
});
