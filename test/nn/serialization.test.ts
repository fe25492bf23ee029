// torch.save / torch.load and safetensors across the language boundary: files written by
// torchlight load in Python (torch.load, load_state_dict, Adam.load_state_dict) and files
// written by Python load in torchlight, bit-exact.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { assertMatches, assertNoLeak, liveTensors, pythonReference, zipRecords, type Encoded } from "../helpers.js";

const net = () => new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 6 * 6, 3));
const dispose = (m: nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);

interface Report {
  load_state_dict: string; safetensors_metadata: Record<string, string>; safetensors_equal_pt: boolean;
  tl_state: Record<string, Encoded>; nested_types: Record<string, string>; nested: Record<string, unknown>;
  nested_tensors: Encoded[]; adam_lr: number; after_step: Record<string, Encoded>; py_state: Record<string, Encoded>;
}

describe("serialization interoperates with Python", () => {
  let dir: string;
  let report: Report;
  let baseline = 0;
  let model: nn.Sequential;
  let adam: optim.Adam;

  before(() => {
    baseline = liveTensors();
    dir = mkdtempSync(join(tmpdir(), "torchlight-ser-"));
    model = torch.tidy(() => { torch.manualSeed(7); return net(); });
    adam = new optim.Adam(model.parameters(), { lr: 0.01 });
    torch.tidy(() => {
      for (let i = 0; i < 3; i++) {
        adam.zeroGrad();
        model.forward(torch.linspace(-1, 1, 2 * 64).reshape(2, 1, 8, 8).mul(i + 1)).pow(2).mean().backward();
        adam.step();
      }
      torch.save(model.stateDict(), join(dir, "tl_model.pt"));
      torch.safetensors.saveFile(model.stateDict(), join(dir, "tl_model.safetensors"), { source: "torchlight" });
      torch.save(adam.stateDict(), join(dir, "tl_adam.pt"));
      torch.save({ epoch: 5, lr: 0.001, name: "fashion", done: false, none: null, list: [1, 2.5, "x"], dict: { a: 1 },
        tensors: [torch.arange(6).reshape(2, 3), torch.tensor([true, false]), torch.tensor([1.5, -2]).to("float64")] }, join(dir, "tl_nested.pt"));
    });
    report = pythonReference<Report>("serialization.py", [dir]);
  });
  after(async () => {
    dispose(model); adam.dispose();
    rmSync(dir, { recursive: true, force: true });
    await assertNoLeak(baseline);
  });

  it("Python loads torchlight's state dict with strict key matching, bit-exact", () => {
    assert.equal(report.load_state_dict, "<All keys matched successfully>");
    torch.tidy(() => {
      const sd = model.stateDict();
      assert.deepEqual(Object.keys(report.tl_state), Object.keys(sd));
      for (const [k, e] of Object.entries(report.tl_state)) assertMatches(sd[k]!, e, k, 0, 0);
    });
  });

  it("torchlight's safetensors file holds the same tensors, readable by the format's spec", () => {
    assert.equal(report.safetensors_equal_pt, true);
    assert.deepEqual(report.safetensors_metadata, { source: "torchlight" });
  });

  it("a file names only globals Python's weights_only load allows (2.6's default), with a byteorder record", () => {
    const bytes = torch.tidy(() => torch.serialize({ a: torch.ones([2, 3]), h: torch.arange(4).to("float16"), big: 2n ** 40n, neg: -70000,
      list: [1.5, "x", null, true], m: new Map([[3, { t: torch.zeros([1], { dtype: "bool" }) }]]), p: torch.ones([2]).requiresGrad_(true) }));
    const records = new Map(zipRecords(bytes));
    assert.equal(records.get("byteorder")?.toString(), "little");
    assert.deepEqual([...records.keys()].filter((k) => k.startsWith("data/")).sort(), ["data/0", "data/1", "data/2", "data/3"]);
    // GLOBAL opcodes (protocol 2): 'c' module '\n' name '\n'
    const pkl = records.get("data.pkl")!.toString("latin1");
    const globals = new Set([...pkl.matchAll(/c([A-Za-z_][\w.]*)\n([A-Za-z_]\w*)\n/g)].map((m) => `${m[1]}.${m[2]}`));
    assert.deepEqual([...globals].sort(), ["collections.OrderedDict", "torch.BoolStorage", "torch.FloatStorage", "torch.HalfStorage", "torch._utils._rebuild_tensor_v2"]);
    const back = torch.deserialize(bytes) as Record<string, unknown>;
    assert.equal(back.big, 2 ** 40);  // LONG1, read back as a safe integer
    assert.equal(back.neg, -70000);
    assert.deepEqual(back.list, [1.5, "x", null, true]);
    assert.equal((back.p as Tensor).requiresGrad, true);
    torch.dispose(Object.values(back).filter((v): v is Tensor => v instanceof torch.Tensor));
    torch.dispose([((back.m as Map<number, { t: Tensor }>).get(3)!.t)]);
  });

  it("nested objects keep their Python types", () => {
    assert.deepEqual(report.nested_types, { epoch: "int", lr: "float", name: "str", done: "bool", none: "NoneType", list: "list", dict: "dict", tensors: "list" });
    assert.deepEqual(report.nested, { epoch: 5, lr: 0.001, name: "fashion", done: false, none: null, list: [1, 2.5, "x"], dict: { a: 1 } });
    assert.deepEqual(report.nested_tensors.map((e) => [e.dtype, e.shape, e.data]), [["int64", [2, 3], [0, 1, 2, 3, 4, 5]], ["bool", [2], [true, false]], ["float64", [2], [1.5, -2]]]);
  });

  it("Python's Adam resumes from torchlight's optimizer state and takes the same step", () => {
    assert.equal(report.adam_lr, 0.01);
    torch.tidy(() => {
      const x = torch.linspace(-1, 1, 2 * 8 * 8).reshape(2, 1, 8, 8);
      model.train();
      adam.zeroGrad();
      model.forward(x).pow(2).mean().backward();
      adam.step();
      const sd = model.stateDict();
      for (const [k, e] of Object.entries(report.after_step)) assertMatches(sd[k]!, e, `after step ${k}`, 0, 0);
    });
  });

  it("torchlight loads Python's torch.save state dict (an OrderedDict) and safetensors file, bit-exact", () => {
    const m = torch.tidy(() => net());
    for (const file of ["py_model.pt", "py_model.safetensors"]) {
      torch.tidy(() => {
        const sd = (file.endsWith(".pt") ? torch.load(join(dir, file)) : torch.safetensors.loadFile(join(dir, file))) as Record<string, Tensor>;
        assert.deepEqual(Object.keys(sd), Object.keys(report.py_state), `${file}: keys in Python's order`);
        assert.deepEqual(m.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
        const mine = m.stateDict();
        for (const [k, e] of Object.entries(report.py_state)) assertMatches(mine[k]!, e, `${file} ${k}`, 0, 0);
      });
    }
    dispose(m);
  });

  it("torchlight loads Python values: ints, floats, tuples, None, int-keyed dicts, fp16/bf16, views, Parameters", () => {
    torch.tidy(() => {
      const d = torch.load(join(dir, "py_nested.pt")) as Record<string, unknown>;
      assert.equal(d.epoch, 3); assert.equal(d.name, "run"); assert.equal(d.ratio, 0.25);
      assert.deepEqual(d.flags, [true, null]);
      assert.equal(d.big, 2 ** 40);
      assert.deepEqual(d.ids, new Map([[1, "a"], [2, "b"]]));
      assert.deepEqual((d.half as Tensor).toArray(), [0, 1, 2, 3]); assert.equal((d.half as Tensor).dtype, "float16");
      assert.equal((d.bf as Tensor).dtype, "bfloat16");
      assert.equal((d.ints as Tensor).dtype, "int64");
      assert.deepEqual((d.view as Tensor).toArray(), [2, 4, 6]);
      assert.equal((d.param as Tensor).requiresGrad, true);
    });
  });

  it("bad input: unreadable files and unsupported values are clear errors", () => {
    assert.throws(() => torch.load(join(dir, "missing.pt")), (e: Error & { code?: string }) => e.code === "TORCH_VALUE_ERROR" && /cannot read .*missing\.pt/.test(e.message));
    writeFileSync(join(dir, "junk.pt"), "not a zip");
    assert.throws(() => torch.load(join(dir, "junk.pt")), /TorchError|zip|archive/i);
    assert.throws(() => torch.save({ f: () => 1 } as never, join(dir, "x.pt")), /cannot store a function or symbol at f/);
    assert.throws(() => torch.save({ m: net() } as never, join(dir, "x.pt")), /class instance \(.*\); store its stateDict\(\) instead/);
    writeFileSync(join(dir, "short.safetensors"), Buffer.from([1, 2, 3]));
    assert.throws(() => torch.safetensors.loadFile(join(dir, "short.safetensors")), /too short to be safetensors/);
  });
});
