// torchlight/vision against torchvision: FashionMNIST contents, transforms (deterministic
// ones exactly, random ones with the same draws after the same seed), and ResNet-18 state
// dicts moving both ways with equal logits.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as torch from "../../src/torch/index.js";
import type { Tensor } from "../../src/torch/index.js";
import { FashionMNIST, MNIST, Image, transforms as T, models, DatasetNotFoundError } from "../../src/vision/index.js";
import { DataLoader } from "../../src/data/index.js";
import { PYTHON, assertMatches, assertNoLeak, decode, liveTensors, pythonReference, type Encoded } from "../helpers.js";

interface Ref {
  sizes: [number, number]; first_images: Encoded; first_labels: number[]; test_labels: number[];
  sample_12345: Encoded; label_12345: number; img: Encoded;
  resize_8: Encoded; resize_8_no_aa: Encoded; resize_hw: Encoded; center_crop: Encoded; center_crop_big: Encoded; pad: Encoded;
  random_crop: Encoded[]; random_flip: Encoded[]; random_resized_crop: Encoded[];
  load_tl: string; logits_of_tl: Encoded; logits_of_py: Encoded;
}
const freeModel = (m: torch.nn.Module) => torch.dispose([...m.parameters(), ...m.buffers()]);

describe("torchlight/vision matches torchvision", () => {
  let ref: Ref;
  let baseline = 0;
  let dir: string;
  let tl: models.ResNet;
  const x = () => torch.linspace(-2, 2, 4 * 28 * 28).reshape(4, 1, 28, 28);

  before(() => {
    baseline = liveTensors();
    dir = mkdtempSync(join(tmpdir(), "torchlight-vision-"));
    tl = torch.tidy(() => { torch.manualSeed(30); return models.resnet18({ numClasses: 10, inChannels: 1 }); });
    torch.tidy(() => { tl.train(); tl.forward(x()); tl.eval(); torch.save(tl.stateDict(), join(dir, "tl_resnet18.pt")); });
    ref = pythonReference<Ref>("vision_reference.py", [dir]);
  });
  after(async () => { freeModel(tl); rmSync(dir, { recursive: true, force: true }); await assertNoLeak(baseline); });

  it("FashionMNIST reads the Debian files: 60,000/10,000 samples, the same pixels and labels as Python", () => {
    const train = new FashionMNIST({ train: true }), test = new FashionMNIST({ train: false });
    assert.deepEqual([train.length, test.length], ref.sizes);
    torch.tidy(() => {
      assertMatches(train.data.slice(0, 0, 3).squeeze(-1), ref.first_images, "first images", 0, 0);
      assert.deepEqual(Array.from({ length: 10 }, (_, i) => train.getItem(i)[1]), ref.first_labels);
      assert.deepEqual(Array.from({ length: 10 }, (_, i) => test.getItem(i)[1]), ref.test_labels);
      const img = train.getItem(0)[0] as Image;
      assert.deepEqual([img.height, img.width, img.mode], [28, 28, "L"]);
    });
    const tf = new FashionMNIST({ transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });
    torch.tidy(() => {
      const [xi, yi] = tf.getItem(12345) as [Tensor, number];
      assertMatches(xi, ref.sample_12345, "toTensor + normalize", 0, 0);
      assert.equal(yi, ref.label_12345);
    });
    torch.dispose([train.data, train.targets, test.data, test.targets, tf.data, tf.targets]);
  });

  it("deterministic transforms equal torchvision's on the same image", () => {
    torch.tidy(() => {
      const img = decode(ref.img);
      assertMatches(T.resize(8)(img) as Tensor, ref.resize_8, "resize(8)", 0, 0);
      assertMatches(T.resize([5, 20])(img) as Tensor, ref.resize_hw, "resize([5, 20])", 0, 0);
      assertMatches(T.resize(8, { antialias: false })(img) as Tensor, ref.resize_8_no_aa, "resize(8, { antialias: false })", 0, 0);
      assertMatches(T.centerCrop(6)(img) as Tensor, ref.center_crop, "centerCrop(6)", 0, 0);
      assertMatches(T.centerCrop([13, 15])(img) as Tensor, ref.center_crop_big, "centerCrop larger than the image", 0, 0);
      assertMatches(T.pad(img, [1, 2, 3, 4], 9) as Tensor, ref.pad, "pad", 0, 0);
      // an HWC Image goes through the same arithmetic
      const asImage = new Image(img.permute(1, 2, 0).contiguous());
      assertMatches((T.resize(8)(asImage) as Image).data.permute(2, 0, 1), ref.resize_8, "resize(8) on an Image", 0, 0);
    });
  });

  it("random transforms draw what torchvision draws after the same manualSeed", () => {
    torch.tidy(() => {
      const img = decode(ref.img);
      torch.manualSeed(21);
      const rc = T.randomCrop(10, { padding: 4 });
      ref.random_crop.forEach((e, i) => assertMatches(rc(img) as Tensor, e, `randomCrop #${i}`, 0, 0));
      torch.manualSeed(22);
      const fl = T.randomHorizontalFlip();
      ref.random_flip.forEach((e, i) => assertMatches(fl(img) as Tensor, e, `randomHorizontalFlip #${i}`, 0, 0));
      torch.manualSeed(23);
      const rrc = T.randomResizedCrop(7);
      const f = img.float();
      ref.random_resized_crop.forEach((e, i) => assertMatches(rrc(f) as Tensor, e, `randomResizedCrop #${i}`, 1e-5, 1e-6));
    });
  });

  it("torchvision's transform classes: callable instances of their class, the factories' results and draws, rebuildable in workers", async () => {
    torch.tidy(() => {
      const img = decode(ref.img);
      const r = new T.Resize(8);
      assert.ok(r instanceof T.Resize && r instanceof T.TransformClass && typeof r === "function");
      assertMatches(r(img) as Tensor, ref.resize_8, "new Resize(8)", 0, 0);
      assertMatches(new T.CenterCrop(6).call(null, img) as Tensor, ref.center_crop, "new CenterCrop(6), through call()", 0, 0);
      torch.manualSeed(21);
      const rc = new T.RandomCrop(10, { padding: 4 });
      ref.random_crop.forEach((e, i) => assertMatches(rc(img) as Tensor, e, `new RandomCrop #${i}`, 0, 0));
      torch.manualSeed(22);
      const fl = new T.RandomHorizontalFlip({ p: 0.5 });
      ref.random_flip.forEach((e, i) => assertMatches(fl(img) as Tensor, e, `new RandomHorizontalFlip #${i}`, 0, 0));
      assert.equal(String(new T.Normalize([0.5], [0.25])), "Normalize(mean=[0.5], std=[0.25])");
      assert.throws(() => new T.Normalize({ mean: [0.5] } as never), /Normalize: missing the required argument std/);
      assert.throws(() => new T.Compose([1 as never]), /Compose: expected a list of transforms/);
    });
    // the seed's pipeline, as written in Python
    const classes = new T.Compose([new T.ToTensor(), new T.Normalize([0.28604], [0.32025])]);
    const factories = T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]);
    assert.match(String(classes), /^Compose\(\n {4}ToTensor\(\)\n {4}Normalize\(mean=\[0.28604\], std=\[0.32025\]\)\n\)$/);
    const a = new FashionMNIST({ train: false, transform: classes }), b = new FashionMNIST({ train: false, transform: factories });
    const batches = async (ds: FashionMNIST, numWorkers: number) => {
      const out: number[] = [];
      for await (const batch of new DataLoader(ds, { batchSize: 512, numWorkers })) {
        const [xb, yb] = batch as [Tensor, Tensor];
        out.push(xb.sum().item(), yb.sum().item());
        torch.dispose([xb, yb]);
        if (out.length === 4) break;
      }
      return out;
    };
    const fromFactories = await batches(b, 0);
    assert.deepEqual(await batches(a, 0), fromFactories);
    assert.deepEqual(await batches(a, 1), fromFactories, "rebuilt in a worker thread from its spec");
    torch.dispose([a.data, a.targets, b.data, b.targets]);
  });

  it("a torchlight ResNet-18 state dict loads into torchvision strictly and gives the same logits", () => {
    assert.equal(ref.load_tl, "<All keys matched successfully>");
    torch.tidy(() => torch.noGrad(() => assertMatches(tl.forward(x()), ref.logits_of_tl, "logits", 1e-5, 1e-4)));
  });

  it("a torchvision ResNet-18 state dict loads into torchlight strictly and gives the same logits", () => {
    const m = torch.tidy(() => models.resnet18({ numClasses: 10, inChannels: 1 }));
    torch.tidy(() => {
      assert.deepEqual(m.loadStateDict(torch.load(join(dir, "py_resnet18.pt")) as Record<string, Tensor>), { missingKeys: [], unexpectedKeys: [] });
      m.eval();
      torch.noGrad(() => assertMatches(m.forward(x()), ref.logits_of_py, "logits", 1e-5, 1e-4));
    });
    freeModel(m);
  });

  it("resnet34/50 and simpleCnn have torchvision's shapes; missing datasets explain where files go", () => {
    torch.tidy(() => {
      const r50 = models.resnet50({ numClasses: 7 });
      assert.equal(r50.parameters().reduce((a, p) => a + p.numel(), 0), 23522375);  // torchvision resnet50(num_classes=7)
      assert.deepEqual(r50.forward(torch.randn([1, 3, 64, 64])).shape, [1, 7]);
      const r34 = models.resnet34();
      assert.equal(r34.parameters().reduce((a, p) => a + p.numel(), 0), 21797672);  // torchvision resnet34()
      assert.deepEqual(models.simpleCnn().forward(torch.randn([2, 1, 28, 28])).shape, [2, 10]);
      freeModel(r50); freeModel(r34);
    });
    assert.throws(() => new MNIST({ root: dir }), (e: DatasetNotFoundError) =>
      e.code === "DATASET_NOT_FOUND" && /download: true/.test(e.message) && /train-images-idx3-ubyte.gz/.test(e.message));
  });

  it("resnet18({ inChannels: 1 }) is the seed's model: torchvision's resnet18 with conv1 replaced after init, bit-equal to Python's under one seed", () => {
    const file = join(mkdtempSync(join(tmpdir(), "tl-seed-init-")), "py.pt");
    const py = spawnSync(PYTHON, ["-c", `import torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10)
m.conv1 = torch.nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
torch.save(m.state_dict(), ${JSON.stringify(file)})`], { encoding: "utf8" });
    assert.equal(py.status, 0, py.stderr);
    torch.manualSeed(0);
    const m = models.resnet18({ numClasses: 10, inChannels: 1 });
    const ref = torch.load(file) as Record<string, Tensor>;
    const mine = m.stateDict();
    assert.deepEqual(Object.keys(mine), Object.keys(ref), "conv1 keeps its place in the state dict");
    for (const k of Object.keys(ref)) assert.ok(mine[k]!.equal(ref[k]!), `${k} bit-equal`);
    const std = mine["conv1.weight"]!.std().item();
    assert.ok(Math.abs(std - 0.0825) < 0.003, `conv1 std ${std}: nn.Conv2d's default init (1/sqrt(3*49)), not torchvision's fan-out 0.025`);
    torch.dispose(Object.values(ref)); freeModel(m);
  });

  it("a FashionMNIST DataLoader with workers gives the same batches as without", async () => {
    const ds = new FashionMNIST({ train: false, transform: T.compose([T.toTensor(), T.normalize([0.28604], [0.32025])]) });
    const sums = async (numWorkers: number) => {
      const out: number[] = [];
      let k = 0;
      for await (const b of new DataLoader(ds, { batchSize: 256, numWorkers })) {
        const [xb, yb] = b as [Tensor, Tensor];
        out.push(xb.sum().item() + yb.sum().item());
        torch.dispose([xb, yb]);
        if (++k === 6) break;
      }
      return out;
    };
    assert.deepEqual(await sums(2), await sums(0));
    torch.dispose([ds.data, ds.targets]);
  });
});
