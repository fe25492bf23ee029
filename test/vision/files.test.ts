// The file formats of the vision datasets: CIFAR's binary records (planar RGB → HWC, fine
// labels for CIFAR-100), ImageFolder's class layout and PNG decoding (through sharp), and
// random transforms in DataLoader workers being reproducible.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import * as torch from "../../src/torch/index.js";
import type { Tensor } from "../../src/torch/index.js";
import { CIFAR10, CIFAR100, FashionMNIST, ImageFolder, Image, transforms as T } from "../../src/vision/index.js";
import { DataLoader, Subset } from "../../src/data/index.js";
import { assertNoLeak, liveTensors } from "../helpers.js";

describe("vision dataset files", () => {
  let dir: string;
  let baseline = 0;
  before(() => { baseline = liveTensors(); dir = mkdtempSync(join(tmpdir(), "torchlight-files-")); });
  after(async () => { rmSync(dir, { recursive: true, force: true }); await assertNoLeak(baseline); });

  it("CIFAR-10/100 binary records: planar RGB becomes HWC, labels (fine for CIFAR-100) as written", () => {
    const rec = (label: number[], seed: number) => Buffer.from([...label, ...Array.from({ length: 3072 }, (_, k) => (k * 31 + seed * 17) % 251)]);
    mkdirSync(join(dir, "cifar-10-batches-bin"));
    writeFileSync(join(dir, "cifar-10-batches-bin", "test_batch.bin"), Buffer.concat([rec([3], 1), rec([7], 2), rec([1], 3)]));
    const c10 = new CIFAR10({ root: dir, train: false });
    assert.equal(c10.length, 3);
    const pixel = (seed: number, y: number, x: number, c: number) => ((c * 1024 + y * 32 + x) * 31 + seed * 17) % 251;
    torch.tidy(() => {
      const [img, label] = c10.getItem(1) as [Image, number];
      assert.equal(label, 7);
      assert.deepEqual([img.height, img.width, img.mode], [32, 32, "RGB"]);
      for (const [y, x, c] of [[0, 0, 0], [5, 9, 1], [31, 30, 2]] as const) {
        assert.equal((img.data.index(y, x, c)).item(), pixel(2, y, x, c), `pixel (${y}, ${x}, ${c})`);
      }
    });
    mkdirSync(join(dir, "cifar-100-binary"));
    writeFileSync(join(dir, "cifar-100-binary", "train.bin"), Buffer.concat([rec([4, 44], 1), rec([9, 99], 2)]));
    const c100 = new CIFAR100({ root: dir });
    assert.deepEqual([c100.getItem(0)[1], c100.getItem(1)[1]], [44, 99]);
    assert.throws(() => new CIFAR10({ root: dir, train: true }), /Unpack the binary version \(cifar-10-batches-bin: data_batch_1.bin/);
    torch.dispose([c10.data, c10.targets, c100.data, c100.targets]);
  });

  it("ImageFolder: sorted class folders, PNG pixels decoded exactly, through a DataLoader with workers", async () => {
    const w = 5, h = 4;
    const pixels = (k: number) => Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 13 + k * 29) % 256));
    const files: [string, string, number][] = [["dog", "b.png", 0], ["cat", "a.png", 1], ["cat", "c.png", 2], ["dog", "a.png", 3]];
    for (const [cls, f, k] of files) {
      mkdirSync(join(dir, "folder", cls), { recursive: true });
      await sharp(pixels(k), { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, "folder", cls, f));
    }
    const ds = new ImageFolder(join(dir, "folder"), { transform: T.toTensor() });
    assert.deepEqual(ds.classes, ["cat", "dog"]);
    assert.deepEqual(ds.samples.map(([p, c]) => [p.split("/").slice(-2).join("/"), c]), [["cat/a.png", 0], ["cat/c.png", 0], ["dog/a.png", 1], ["dog/b.png", 1]]);
    const raw = new ImageFolder(join(dir, "folder"));
    const [img] = await raw.getItemAsync(3) as [Image, number];  // dog/b.png, written from pixels(0)
    assert.deepEqual(Array.from(img.data.data() as Uint8Array), Array.from(pixels(0)));
    img.data.dispose();
    assert.throws(() => ds.getItem(0), /use await dataset.getItemAsync/);
    const collect = async (numWorkers: number) => {
      const out: number[][] = [];
      for await (const b of new DataLoader(ds, { batchSize: 2, numWorkers })) {
        const [x, y] = b as [Tensor, Tensor];
        assert.deepEqual(x.shape, [2, 3, h, w]);
        out.push([x.sum().item(), ...(y.toArray() as number[])]);
        torch.dispose([x, y]);
      }
      return out;
    };
    const single = await collect(0);
    assert.deepEqual(await collect(2), single);
    assert.deepEqual(single.map((r) => r.slice(1)), [[0, 0], [1, 1]]);
  });

  it("random transforms in worker threads are reproducible for a seed (each worker has its own Generator)", async () => {
    const fm = new FashionMNIST({ train: false, transform: T.compose([T.randomCrop(24, { padding: 2 }), T.randomHorizontalFlip(), T.toTensor()]) });
    const ds = new Subset(fm, Array.from({ length: 64 }, (_, i) => i));
    const run = async () => {
      torch.manualSeed(5);
      const sums: number[] = [];
      for await (const b of new DataLoader(ds, { batchSize: 8, numWorkers: 2, shuffle: true })) {
        const [x, y] = b as [Tensor, Tensor];
        sums.push(x.sum().item());
        torch.dispose([x, y]);
      }
      return sums;
    };
    const a = await run(), b = await run();
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, a.length, "batches differ");
    torch.dispose([fm.data, fm.targets]);
  });
});
