// Creation, dtypes, metadata, printing, indexing and autograd rules, as PyTorch has them.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

describe("tensor", () => {
  const baseline = liveTensors();
  after(async () => { await assertNoLeak(baseline); });

  it("creates tensors of every dtype from arrays and typed arrays", () => {
    torch.tidy(() => {
      for (const d of ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"] as const) {
        const t = torch.tensor([[1, 0], [1, 1]], { dtype: d });
        assert.equal(t.dtype, d);
        assert.deepEqual(t.shape, [2, 2]);
        assert.equal(t.sum().item(), 3);
      }
      assert.equal(torch.tensor([1.5]).dtype, "float32");
      assert.equal(torch.tensor([true]).dtype, "bool");
      assert.equal(torch.tensor(new Int32Array([1, 2])).dtype, "int32");
      assert.equal(torch.tensor(new BigInt64Array([1n, 2n])).dtype, "int64");
      assert.deepEqual(torch.tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }).shape, [2, 3]);
      assert.deepEqual(Array.from(torch.tensor([1, 2], { dtype: "int64" }).data() as BigInt64Array), [1n, 2n]);
    });
  });

  it("factories follow PyTorch's dtypes and values", () => {
    torch.tidy(() => {
      assert.equal(torch.arange(5).dtype, "int64");
      assert.deepEqual(torch.arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
      assert.deepEqual(torch.arange(2, 5).toArray(), [2, 3, 4]);
      assert.deepEqual(torch.linspace(0, 1, 3).toArray(), [0, 0.5, 1]);
      assert.deepEqual(torch.eye(2).toArray(), [[1, 0], [0, 1]]);
      assert.deepEqual(torch.full([2], 7, { dtype: "int32" }).toArray(), [7, 7]);
      assert.equal(torch.zeros([2, 3]).dtype, "float32");
      assert.equal(torch.randint(0, 10, [100]).dtype, "int64");
      assert.ok(torch.randint(3, 5, [100]).ge(3).all().item() === 1);
      assert.deepEqual(torch.randperm(5).sort().values.toArray(), [0, 1, 2, 3, 4]);
      const x = torch.ones([2, 3], { dtype: "float64" });
      assert.equal(torch.zerosLike(x).dtype, "float64");
      assert.deepEqual(torch.fullLike(x, 2).shape, [2, 3]);
    });
  });

  it("manualSeed makes random tensors reproducible and equal to Python's", () => {
    torch.tidy(() => {
      torch.manualSeed(42);
      const a = torch.randn([3]).toArray();
      torch.manualSeed(42);
      assert.deepEqual(torch.randn([3]).toArray(), a);
      // torch.manual_seed(42); torch.randn(3) in Python 1.13:
      const py = [0.33669036626815796, 0.12880940735340118, 0.23446236550807953];
      (a as number[]).forEach((v, i) => assert.ok(Math.abs(v - py[i]!) < 1e-7));
    });
  });

  it("prints like PyTorch", () => {
    torch.tidy(() => {
      assert.equal(String(torch.tensor([1, 2, 3])), "tensor([1., 2., 3.])");
      assert.equal(String(torch.tensor([1.5, -2.25])), "tensor([ 1.5000, -2.2500])");
      assert.equal(String(torch.arange(3)), "tensor([0, 1, 2])");
      assert.equal(String(torch.tensor([[1, 2], [3, 4]], { dtype: "float64" })), "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.float64)");
      assert.equal(String(torch.tensor([true, false])), "tensor([ True, False])");
      assert.equal(String(torch.tensor([1e-5, 1])), "tensor([1.0000e-05, 1.0000e+00])");
      assert.equal(String(torch.tensor(2.5)), "tensor(2.5000)");
      const x = torch.ones([2], { requiresGrad: true });
      assert.equal(String(x), "tensor([1., 1.], requires_grad=True)");
      assert.equal(String(x.mul(x)), "tensor([1., 1.], grad_fn=<MulBackward0>)");
      assert.equal(x.mul(2).gradFn, "MulBackward0", "a number operand is wrapped as Python wraps it");
      assert.equal(torch.tensor([1, 2], { dtype: "int32" }).mul(2).dtype, "int32");
      assert.equal(torch.tensor([1, 2], { dtype: "int32" }).mul(2.5).dtype, "float32");
      assert.equal(torch.tensor([1, 2], { dtype: "float16" }).add(1e-3).dtype, "float16");
      assert.equal(String(torch.arange(2000)), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
      assert.equal(String(torch.tensor([[1.5, 2], [3, 4]]).double()), "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]], dtype=torch.float64)");
    });
  });

  it("indexes like Python", () => {
    torch.tidy(() => {
      const a = torch.arange(24).view(2, 3, 4);
      assert.deepEqual(a.index(1, 2).toArray(), [20, 21, 22, 23]);
      assert.deepEqual(a.index(0, [1, null], [0, null, 2]).toArray(), [[4, 6], [8, 10]]);
      assert.deepEqual(a.index("...", 1).shape, [2, 3]);
      assert.deepEqual(a.index(null).shape, [1, 2, 3, 4]);
      assert.deepEqual(a.index(torch.tensor([1, 0], { dtype: "int64" }), 0, 0).toArray(), [12, 0]);
      assert.deepEqual(a.index(a.gt(20)).toArray(), [21, 22, 23]);
    });
  });

  it("in-place ops return the same tensor and bump autograd state as PyTorch", () => {
    torch.tidy(() => {
      const a = torch.zeros([3]);
      assert.equal(a.add_(1), a);
      assert.equal(a.mul_(3).exp_(), a);
      assert.ok(Math.abs(a.sum().item() - 3 * Math.exp(3)) < 1e-3);
      const leaf = torch.ones([2], { requiresGrad: true });
      assert.throws(() => leaf.add_(1), /leaf Variable that requires grad/);
    });
  });

  it("follows autograd's leaf and non-leaf rules", () => {
    torch.tidy(() => {
      const x = torch.tensor([1, 2, 3], { requiresGrad: true });
      assert.equal(x.isLeaf, true);
      assert.equal(x.gradFn, null);
      const y = x.mul(x);
      assert.equal(y.isLeaf, false);
      assert.equal(y.gradFn, "MulBackward0");
      y.retainGrad();
      y.sum().backward({ retainGraph: true });
      assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
      assert.deepEqual(y.grad!.toArray(), [1, 1, 1]);
      y.sum().backward();
      assert.deepEqual(x.grad!.toArray(), [4, 8, 12], "grads accumulate");
      assert.throws(() => y.sum().backward(), /backward through the graph a second time/);
      x.grad = null;
      assert.equal(x.grad, null);
      assert.throws(() => y.backward(), /grad can be implicitly created only for scalar outputs/);
      const d = x.detach();
      assert.equal(d.requiresGrad, false);
      assert.equal(torch.noGrad(() => x.mul(2)).requiresGrad, false);
      assert.equal(torch.isGradEnabled(), true);
      const [g] = torch.autograd.grad(x.pow(3).sum(), x);
      assert.deepEqual(g!.toArray(), [3, 12, 27]);
      const [gg] = torch.autograd.grad(x.pow(3).sum(), [x], { createGraph: true });
      const [g2] = torch.autograd.grad(gg!.sum(), x);
      assert.deepEqual(g2!.toArray(), [6, 12, 18], "second derivative");
      const unused = torch.ones([1], { requiresGrad: true });
      assert.deepEqual(torch.autograd.grad(x.sum(), [x, unused], { allowUnused: true })[1], null);
    });
  });

  it("reports the runtime it got", () => {
    const c = torch.config();
    assert.match(c.torchVersion, /^\d+\.\d+/);
    assert.ok(c.numThreads >= 1);
    assert.equal(torch.getNumThreads(), c.numThreads);
    assert.ok(c.opCount > 400);
    assert.equal(typeof c.cuda, "boolean");
    assert.ok(["openblas", "mkl", "blis", "reference", "built into libtorch"].includes(c.blas));
  });
});
