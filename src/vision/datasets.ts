/**
 * @module torchlight/vision/datasets: image datasets read from local files, as
 * `torchvision.datasets`: MNIST and FashionMNIST (IDX files, gzipped or raw), CIFAR10 and
 * CIFAR100 (the binary versions), ImageFolder (JPEG/PNG through sharp). Nothing is
 * downloaded: `download: true` explains which files to put where.
 *
 * A sample is `[image, target]`: the image an `Image` (uint8 HWC, a view into the
 * dataset's memory) unless a `transform` turns it into something else.
 */
import { checkOptions } from "../util/validate.js";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { Dataset, type WorkerSpec } from "../data/index.js";
import { Image } from "./image.js";
import { fromSpec, type Transform, type TransformSpec } from "./transforms.js";

/** Options every vision dataset takes, as torchvision's keyword arguments. */
export interface VisionDatasetOptions {
  /** The folder holding the files (see each dataset for the layout). */
  root?: string;
  /** The training split (default) or the test split. */
  train?: boolean;
  transform?: Transform | null;
  targetTransform?: Transform | null;
  /** torchlight never downloads: true gives an error naming the files to fetch and where to put them. */
  download?: boolean;
}

/** A dataset's files are missing or unreadable: the message says which files go where. */
export class DatasetNotFoundError extends Error {
  override name = "DatasetNotFoundError";
  readonly code = "DATASET_NOT_FOUND";
}

function specOf(t: Transform | null | undefined, what: string, ds: string): TransformSpec | null | false {
  if (!t) return null;
  return t.spec ?? (console.warn(`${ds}: its ${what} is a custom function, so DataLoader worker threads cannot rebuild the dataset; use the transforms factories or numWorkers: 0`), false);
}

/** Base of the in-memory image datasets: all images in one uint8 tensor [N, H, W, C], targets in an int64 tensor. */
abstract class ImageTensorDataset extends Dataset<[unknown, unknown]> {
  readonly transform: Transform | null;
  readonly targetTransform: Transform | null;
  readonly train: boolean;
  /** [N, H, W, C] uint8 */
  readonly data: Tensor;
  /** [N] int64 */
  readonly targets: Tensor;
  private readonly targetList: number[];
  constructor(data: Tensor, targets: Tensor, opts: VisionDatasetOptions) {
    super();
    this.data = data.keep();
    this.targets = targets.keep();
    this.targetList = targets.toArray() as number[];
    this.train = opts.train ?? true;
    this.transform = opts.transform ?? null;
    this.targetTransform = opts.targetTransform ?? null;
  }
  get length(): number { return this.targetList.length; }
  getItem(index: number): [unknown, unknown] {
    const n = this.length;
    if (!Number.isInteger(index) || index < -n || index >= n) throw new RangeError(`${this.constructor.name}: index ${index} is out of range for ${n} samples`);
    const i = index < 0 ? n + index : index;
    let img: unknown = new Image(this.data.select(0, i));
    let target: unknown = this.targetList[i]!;
    if (this.transform) img = this.transform(img);
    if (this.targetTransform) target = this.targetTransform(target);
    return [img, target];
  }
  override workerSpec(): WorkerSpec | undefined {
    const t = specOf(this.transform, "transform", this.constructor.name), tt = specOf(this.targetTransform, "targetTransform", this.constructor.name);
    if (t === false || tt === false) return undefined;
    return { module: import.meta.url, name: "imageDatasetFromTensors", factory: true, args: [this.constructor.name, this.data, this.targets, this.train, t, tt] };
  }
}

/** @internal Worker-side rebuild: the tensors arrive shared (no copy). */
export function imageDatasetFromTensors(kind: string, data: Tensor, targets: Tensor, train: boolean, t: TransformSpec | null, tt: TransformSpec | null): Dataset {
  const ctor = { MNIST, FashionMNIST, CIFAR10, CIFAR100 }[kind];
  if (!ctor) throw new TypeError(`vision datasets: unknown dataset kind ${kind}`);
  const ds = Object.create(ctor.prototype) as ImageTensorDataset;
  Object.assign(ds, { data: data.keep(), targets: targets.keep(), targetList: targets.toArray(), train, transform: t ? fromSpec(t) : null, targetTransform: tt ? fromSpec(tt) : null });
  return ds;
}

// ---- MNIST family ------------------------------------------------------------------------------

function readIdx(path: string): { dims: number[]; bytes: Uint8Array } {
  let buf = readFileSync(path);
  if (path.endsWith(".gz")) buf = gunzipSync(buf);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) {
    throw new DatasetNotFoundError(`${path} is not an IDX file of unsigned bytes (magic ${buf.subarray(0, 4).toString("hex")}); it may be damaged`);
  }
  const n = buf[3]!;
  const dims = Array.from({ length: n }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length < 4 + 4 * n + count) throw new DatasetNotFoundError(`${path} is truncated: it should hold ${count} bytes of data`);
  return { dims, bytes: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * n, count) };
}

function findFile(dirs: string[], names: string[]): string | undefined {
  for (const d of dirs) for (const n of names) for (const f of [n, `${n}.gz`]) if (existsSync(join(d, f))) return join(d, f);
  return undefined;
}

abstract class MNISTLike extends ImageTensorDataset {
  protected static load(kind: string, opts: VisionDatasetOptions, defaultRoot: string | undefined, help: string): [Tensor, Tensor] {
    const root = opts.root ?? defaultRoot;
    const split = (opts.train ?? true) ? "train" : "t10k";
    const files = [`${split}-images-idx3-ubyte`, `${split}-labels-idx1-ubyte`];
    if (root === undefined) throw new DatasetNotFoundError(`${kind}: give { root } (the folder with ${files.join(", ")}, gzipped or not)${help}`);
    const dirs = [root, join(root, kind, "raw"), join(root, "raw")];
    const img = findFile(dirs, [files[0]!]), lab = findFile(dirs, [files[1]!]);
    if (!img || !lab) {
      const why = opts.download ? `${kind}: download is not possible here (torchlight does not download datasets)` : `${kind}: dataset not found`;
      throw new DatasetNotFoundError(`${why}. Put ${files.map((f) => `${f}.gz`).join(" and ")} (or unpacked) in ${root} or ${join(root, kind, "raw")}${help}`);
    }
    const images = readIdx(img), labels = readIdx(lab);
    if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
      throw new DatasetNotFoundError(`${kind}: ${img} has shape [${images.dims.join(", ")}] and ${lab} [${labels.dims.join(", ")}]; expected [N, H, W] images and N labels`);
    }
    const [n, h, w] = images.dims as [number, number, number];
    return torch.tidy(() => [
      torch.tensor(images.bytes, { shape: [n, h, w, 1] }).keep(),
      torch.tensor(labels.bytes).to("int64").keep(),
    ]);
  }
}

/** MNIST digits (60,000 training / 10,000 test images, 28×28 grey). */
export class MNIST extends MNISTLike {
  static readonly classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"];
  constructor(options?: VisionDatasetOptions) {
    const opts = checkOptions("MNIST", options, ["root", "train", "transform", "targetTransform", "download"]);

    const [d, t] = MNISTLike.load("MNIST", opts, undefined, "");
    super(d, t, opts);
  }
}

/** The default FashionMNIST folder: Debian's `dataset-fashion-mnist` package. */
export const FASHION_MNIST_DEBIAN = "/usr/share/datasets/fashion-mnist";

/**
 * Zalando's FashionMNIST (60,000 / 10,000 images, 28×28 grey, 10 classes). `root` defaults
 * to Debian's `/usr/share/datasets/fashion-mnist` when it exists.
 */
export class FashionMNIST extends MNISTLike {
  static readonly classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
  constructor(options?: VisionDatasetOptions) {
    const opts = checkOptions("FashionMNIST", options, ["root", "train", "transform", "targetTransform", "download"]);

    const [d, t] = MNISTLike.load("FashionMNIST", opts, existsSync(FASHION_MNIST_DEBIAN) ? FASHION_MNIST_DEBIAN : undefined,
      "; on Debian, `apt-get install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist");
    super(d, t, opts);
  }
}

// ---- CIFAR ------------------------------------------------------------------------------------

function readCifar(kind: string, root: string, folder: string, files: string[], labelBytes: number, opts: VisionDatasetOptions): [Tensor, Tensor] {
  const dirs = [join(root, folder), root];
  const paths = files.map((f) => dirs.map((d) => join(d, f)).find((p) => existsSync(p)));
  if (paths.some((p) => p === undefined)) {
    const why = opts.download ? `${kind}: download is not possible here (torchlight does not download datasets)` : `${kind}: dataset not found`;
    throw new DatasetNotFoundError(`${why}. Unpack the binary version (${folder}: ${files.join(", ")}) into ${root}`);
  }
  const rec = labelBytes + 3072;
  const chunks = (paths as string[]).map((p) => readFileSync(p));
  const n = chunks.reduce((a, c) => a + c.length / rec, 0);
  if (!Number.isInteger(n)) throw new DatasetNotFoundError(`${kind}: a file in ${paths.join(", ")} is not a whole number of ${rec}-byte records`);
  const pixels = new Uint8Array(n * 3072), labels = new Uint8Array(n);
  let k = 0;
  for (const c of chunks) {
    for (let off = 0; off < c.length; off += rec, k++) {
      labels[k] = c[off + labelBytes - 1]!;  // CIFAR-100: [coarse, fine]; the fine label is the target
      pixels.set(c.subarray(off + labelBytes, off + rec), k * 3072);
    }
  }
  return torch.tidy(() => [
    torch.tensor(pixels, { shape: [n, 3, 32, 32] }).permute(0, 2, 3, 1).contiguous().keep(),  // planar RGB → HWC
    torch.tensor(labels).to("int64").keep(),
  ]);
}

/** CIFAR-10 (50,000 / 10,000 images, 32×32 RGB), from `cifar-10-batches-bin`. */
export class CIFAR10 extends ImageTensorDataset {
  static readonly classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
  constructor(options: VisionDatasetOptions & { root: string }) {
    const opts = checkOptions("CIFAR10", options, ["root", "train", "transform", "targetTransform", "download"]);

    const train = opts.train ?? true;
    const files = train ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
    const [d, t] = readCifar("CIFAR10", opts.root, "cifar-10-batches-bin", files, 1, opts);
    super(d, t, opts);
  }
}

/** CIFAR-100 (fine labels), from `cifar-100-binary`. */
export class CIFAR100 extends ImageTensorDataset {
  constructor(options: VisionDatasetOptions & { root: string }) {
    const opts = checkOptions("CIFAR100", options, ["root", "train", "transform", "targetTransform", "download"]);

    const [d, t] = readCifar("CIFAR100", opts.root, "cifar-100-binary", [(opts.train ?? true) ? "train.bin" : "test.bin"], 2, opts);
    super(d, t, opts);
  }
}

// ---- ImageFolder ------------------------------------------------------------------------------

const IMG_EXTENSIONS = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];

/**
 * Images in `root/<class>/<file>`; classes are the sorted folder names, as torchvision's
 * ImageFolder. Files are decoded (to RGB) by sharp when a sample is read.
 */
export class ImageFolder extends Dataset<[unknown, unknown]> {
  readonly classes: string[];
  readonly classToIdx: Record<string, number>;
  readonly samples: [string, number][];
  readonly transform: Transform | null;
  readonly targetTransform: Transform | null;
  constructor(readonly root: string, options?: Omit<VisionDatasetOptions, "root" | "train" | "download">) {
    super();
    const opts = checkOptions("ImageFolder", options, ["transform", "targetTransform"]);
    if (!existsSync(root)) throw new DatasetNotFoundError(`ImageFolder: ${root} does not exist; it should hold one folder per class`);
    this.classes = readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory()).sort();
    if (this.classes.length === 0) throw new DatasetNotFoundError(`ImageFolder: couldn't find any class folder in ${root}`);
    this.classToIdx = Object.fromEntries(this.classes.map((c, i) => [c, i]));
    this.samples = [];
    for (const c of this.classes) {
      const walk = (dir: string) => {
        for (const f of readdirSync(dir).sort()) {
          const p = join(dir, f);
          if (statSync(p).isDirectory()) walk(p);
          else if (IMG_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e))) this.samples.push([p, this.classToIdx[c]!]);
        }
      };
      walk(join(root, c));
    }
    if (this.samples.length === 0) throw new DatasetNotFoundError(`ImageFolder: found no valid file for the classes ${this.classes.join(", ")} in ${root}; supported extensions are ${IMG_EXTENSIONS.join(", ")}`);
    this.transform = opts.transform ?? null;
    this.targetTransform = opts.targetTransform ?? null;
  }
  get length(): number { return this.samples.length; }
  override workerSpec(): WorkerSpec | undefined {
    const t = specOf(this.transform, "transform", "ImageFolder"), tt = specOf(this.targetTransform, "targetTransform", "ImageFolder");
    if (t === false || tt === false) return undefined;
    return { module: import.meta.url, name: "imageFolderFromSpec", factory: true, args: [this.root, t, tt] };
  }
  /** Decoding is asynchronous in sharp; use `getItemAsync`, or a DataLoader (which awaits it). */
  getItem(index: number): [unknown, unknown] {
    void index;
    throw new TypeError("ImageFolder: decoding images is asynchronous; use await dataset.getItemAsync(i) (DataLoader does this for you)");
  }
  override async getItemAsync(index: number): Promise<[unknown, unknown]> {
    const [path, target] = this.samples[index] ?? (() => { throw new RangeError(`ImageFolder: index ${index} is out of range for ${this.samples.length} samples`); })();
    const img = await decodeImage(path);
    return [this.transform ? this.transform(img) : img, this.targetTransform ? this.targetTransform(target) : target];
  }
}

/** @internal Worker-side rebuild of an ImageFolder. */
export function imageFolderFromSpec(root: string, t: TransformSpec | null, tt: TransformSpec | null): ImageFolder {
  return new ImageFolder(root, { transform: t ? fromSpec(t) : null, targetTransform: tt ? fromSpec(tt) : null });
}

/** Decodes an image file to an RGB Image with sharp. */
export async function decodeImage(path: string): Promise<Image> {
  let sharp: (p: string) => { removeAlpha(): { toColourspace(c: string): { raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> } } } };
  try {
    sharp = ((await import("sharp" as string)) as { default: typeof sharp }).default;
  } catch {
    throw new DatasetNotFoundError("ImageFolder: decoding JPEG/PNG needs the 'sharp' package; install it with `npm install sharp`");
  }
  const { data, info } = await sharp(path).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return new Image(torch.tensor(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { shape: [info.height, info.width, info.channels] }));
}
