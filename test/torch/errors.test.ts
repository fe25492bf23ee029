// Bad input gives a clear, typed error and the process goes on.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { TorchArgumentError, TorchError } from "../../src/torch/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

describe("errors", () => {
  const baseline = liveTensors();
  after(async () => { await assertNoLeak(baseline); });

  it("shape mismatch is a TorchError with libtorch's message and the op", () => {
    torch.tidy(() => {
      const a = torch.ones([2, 3]), b = torch.ones([4, 5]);
      assert.throws(() => a.mm(b), (e: unknown) => {
        assert.ok(e instanceof TorchError);
        assert.equal(e.code, "TORCH_ERROR");
        assert.equal(e.op, "mm");
        assert.match(e.message, /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
        return true;
      });
      assert.throws(() => a.add(b), /The size of tensor a \(3\) must match the size of tensor b \(5\)/);
    });
  });

  it("out-of-range index and dimension are TORCH_INDEX_ERROR", () => {
    torch.tidy(() => {
      const a = torch.ones([2, 3]);
      assert.throws(() => a.select(0, 5), (e: unknown) => e instanceof TorchError && e.code === "TORCH_INDEX_ERROR" && /out of range/.test(e.message));
      assert.throws(() => a.sum(7), (e: unknown) => e instanceof TorchError && e.code === "TORCH_INDEX_ERROR" && /Dimension out of range/.test(e.message));
      const idx = torch.tensor([0, 9], { dtype: "int64" });
      assert.throws(() => a.indexSelect(1, idx), TorchError);
    });
  });

  it("wrong dtype is a TorchError", () => {
    torch.tidy(() => {
      const f = torch.ones([3]);
      const idx = torch.tensor([0, 1], { dtype: "float32" });
      assert.throws(() => f.indexSelect(0, idx), (e: unknown) => e instanceof TorchError && /Expected dtype int32 or int64 for index/.test(e.message));
      const i = torch.tensor([1, 2], { dtype: "int64" });
      assert.throws(() => i.requiresGrad_(true), /floating point/);
    });
  });

  it("wrong argument types are TorchArgumentError (a TypeError) naming what was expected", () => {
    torch.tidy(() => {
      const a = torch.ones([2]);
      assert.throws(() => a.matmul("x" as never), (e: unknown) => e instanceof TorchArgumentError && e instanceof TypeError &&
        e.code === "TORCH_ARGUMENT_ERROR" && /expected a Tensor for other but received 'x' of type string/.test(e.message));
      assert.throws(() => a.sum(1.5), (e: unknown) => e instanceof TorchArgumentError && /sum.dim_IntList\(\): expected an integer for argument 'dim' \(position 2\) but received 1\.5 of type number/.test(e.message));
      assert.throws(() => a.view("2" as never), TorchArgumentError);
      assert.throws(() => torch.zeros([2], { dtype: "float31" as never }), /Expected a dtype/);
      assert.throws(() => torch.tensor([[1, 2], [3]]), /regular shape/);
      assert.throws(() => a.item(), /2 elements cannot be converted/);
      assert.throws(() => a.to("tpu"), TorchError);
    });
  });

  it("a disposed tensor says so and how to keep it", () => {
    const a = torch.ones([2]);
    a.dispose();
    assert.equal(a.isDisposed, true);
    assert.throws(() => a.add(1), (e: unknown) => e instanceof TorchError && e.code === "TORCH_TENSOR_DISPOSED" && /keep\(\)/.test(e.message));
    const b = torch.tidy(() => torch.ones([2]).mul(2));
    const leaked = torch.tidy(() => { const t = torch.ones([1]); return [b, t.add(0)]; });
    assert.equal(b.isDisposed, false);
    let inner!: torch.Tensor;
    torch.tidy(() => { inner = torch.ones([1]); });
    assert.throws(() => inner.exp(), /disposed/);
    torch.dispose([b, leaked]);
  });

  it("the process survives a thousand failing calls", () => {
    const a = torch.ones([2, 2]);
    for (let i = 0; i < 1000; i++) assert.throws(() => a.view(3));
    assert.equal(a.sum().item(), 4);
    a.dispose();
  });
});
