/**
 * @module torchlight/vision/datasets: image datasets read from local files, as
 * `torchvision.datasets`: MNIST and FashionMNIST (IDX files, gzipped or raw), CIFAR10 and
 * CIFAR100 (the binary versions), ImageFolder (JPEG/PNG through sharp). `download: true`
 * fetches missing files as torchvision does: from the class's `mirrors` in order (or the
 * `mirrors` option, or `TORCHLIGHT_DATASET_MIRRORS`), checked against its `resources` MD5s.
 *
 * A sample is `[image, target]`: the image an `Image` (uint8 HWC, a view into the
 * dataset's memory) unless a `transform` turns it into something else.
 */
import { checkOptions } from "../util/validate.js";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { env } from "../util/env.js";
import type { DownloadPlan, Resource } from "./download.js";
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
  /** Fetch the files when they are missing (into `root/<Name>/raw`, or `root` for CIFAR). */
  download?: boolean;
  /** Base URLs to download from, in order, instead of the class's `mirrors` (and of TORCHLIGHT_DATASET_MIRRORS). */
  mirrors?: string[];
}
const DATASET_KEYS = ["root", "train", "transform", "targetTransform", "download", "mirrors"] as const;

/** A dataset class's download table, as torchvision's class attributes. */
interface Downloadable { mirrors: readonly string[]; resources: readonly Resource[] }

/** The mirrors a download tries: the option, else TORCHLIGHT_DATASET_MIRRORS (comma-separated), else the class's. */
function mirrorsFor(opts: VisionDatasetOptions, own: readonly string[]): string[] {
  if (opts.mirrors !== undefined) {
    if (!Array.isArray(opts.mirrors) || opts.mirrors.some((m) => typeof m !== "string")) throw new TypeError(`mirrors must be an array of base URLs, as ["https://host/path/"]; got ${JSON.stringify(opts.mirrors)}`);
    return opts.mirrors;
  }
  const fromEnv = env("datasetMirrors");
  return fromEnv ? fromEnv.split(",").map((m) => m.trim()).filter(Boolean) : [...own];
}

/** Runs the download in a child process and waits (the constructors are synchronous, as torchvision's). */
function downloadNow(plan: DownloadPlan): void {
  const script = fileURLToPath(new URL("./download.js", import.meta.url));
  const r = spawnSync(process.execPath, [script, JSON.stringify(plan)], { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new DatasetNotFoundError(r.stderr?.trim() || `${plan.kind}: the download process ended with ${r.signal ?? `code ${r.status}`}`);
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
  protected static load(cls: Downloadable, kind: string, opts: VisionDatasetOptions, defaultRoot: string | undefined, help: string): [Tensor, Tensor] {
    const root = opts.root ?? defaultRoot;
    const split = (opts.train ?? true) ? "train" : "t10k";
    const files = [`${split}-images-idx3-ubyte`, `${split}-labels-idx1-ubyte`];
    if (root === undefined) throw new DatasetNotFoundError(`${kind}: give { root } (the folder with ${files.join(", ")}, gzipped or not)${help}`);
    const dirs = [root, join(root, kind, "raw"), join(root, "raw")];
    let img = findFile(dirs, [files[0]!]), lab = findFile(dirs, [files[1]!]);
    if ((!img || !lab) && opts.download) {
      downloadNow({ kind, mirrors: mirrorsFor(opts, cls.mirrors), resources: [...cls.resources], dest: join(root, kind, "raw") });
      img = findFile(dirs, [files[0]!]); lab = findFile(dirs, [files[1]!]);
    }
    if (!img || !lab) {
      throw new DatasetNotFoundError(`${kind}: dataset not found. Put ${files.map((f) => `${f}.gz`).join(" and ")} (or unpacked) in ${root} or ${join(root, kind, "raw")}, or pass download: true${help}`);
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
  /** torchvision's mirrors, tried in order (assignable, as in Python). */
  static mirrors: readonly string[] = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"];
  /** torchvision's files and MD5s. */
  static resources: readonly Resource[] = [
    { file: "train-images-idx3-ubyte.gz", md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873" },
    { file: "train-labels-idx1-ubyte.gz", md5: "d53e105ee54ea40749a09fcbcd1e9432" },
    { file: "t10k-images-idx3-ubyte.gz", md5: "9fb629c4189551a2d022fa330f9573f3" },
    { file: "t10k-labels-idx1-ubyte.gz", md5: "ec29112dd5afa0611ce80d1b7f02629c" },
  ];
  constructor(options?: VisionDatasetOptions) {
    const opts = checkOptions("MNIST", options, DATASET_KEYS);

    const [d, t] = MNISTLike.load(new.target, "MNIST", opts, undefined, "");
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
  /** torchvision's mirrors, tried in order (assignable, as in Python). */
  static mirrors: readonly string[] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];
  /** torchvision's files and MD5s (Debian's package recompresses them: its MD5s differ, and it needs no download). */
  static resources: readonly Resource[] = [
    { file: "train-images-idx3-ubyte.gz", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d" },
    { file: "train-labels-idx1-ubyte.gz", md5: "25c81989df183df01b3e8a0aad5dffbe" },
    { file: "t10k-images-idx3-ubyte.gz", md5: "bef4ecab320f06d8554ea6380940ec79" },
    { file: "t10k-labels-idx1-ubyte.gz", md5: "bb300cfdad3c16e7a12a480ee83cd310" },
  ];
  constructor(options?: VisionDatasetOptions) {
    const opts = checkOptions("FashionMNIST", options, DATASET_KEYS);

    const [d, t] = MNISTLike.load(new.target, "FashionMNIST", opts, existsSync(FASHION_MNIST_DEBIAN) ? FASHION_MNIST_DEBIAN : undefined,
      "; on Debian, `apt-get install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist");
    super(d, t, opts);
  }
}

// ---- CIFAR ------------------------------------------------------------------------------------

function readCifar(cls: Downloadable, kind: string, root: string, folder: string, files: string[], labelBytes: number, opts: VisionDatasetOptions): [Tensor, Tensor] {
  if (typeof root !== "string") throw new DatasetNotFoundError(`${kind}: give { root }, the folder that holds (or will hold, with download: true) ${folder}`);
  const dirs = [join(root, folder), root];
  const find = () => files.map((f) => dirs.map((d) => join(d, f)).find((p) => existsSync(p)));
  let paths = find();
  if (paths.some((p) => p === undefined) && opts.download) {
    downloadNow({ kind, mirrors: mirrorsFor(opts, cls.mirrors), resources: [...cls.resources], dest: root });
    paths = find();
  }
  if (paths.some((p) => p === undefined)) {
    throw new DatasetNotFoundError(`${kind}: dataset not found. Unpack the binary version (${folder}: ${files.join(", ")}) into ${root}, or pass download: true`);
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
  /** The CIFAR page, torchvision's host (assignable, as in Python). */
  static mirrors: readonly string[] = ["https://www.cs.toronto.edu/~kriz/"];
  /** The binary version (torchvision fetches the Python pickles; torchlight reads the binary files), with the MD5 the CIFAR page gives. */
  static resources: readonly Resource[] = [{ file: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530", folder: "cifar-10-batches-bin" }];
  constructor(options: VisionDatasetOptions & { root: string }) {
    const opts = checkOptions("CIFAR10", options, DATASET_KEYS);

    const train = opts.train ?? true;
    const files = train ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
    const [d, t] = readCifar(new.target, "CIFAR10", opts.root, "cifar-10-batches-bin", files, 1, opts);
    super(d, t, opts);
  }
}

/** CIFAR-100 (fine labels), from `cifar-100-binary`. */
export class CIFAR100 extends ImageTensorDataset {
  /** The CIFAR page, torchvision's host (assignable, as in Python). */
  static mirrors: readonly string[] = ["https://www.cs.toronto.edu/~kriz/"];
  /** The binary version, with the MD5 the CIFAR page gives. */
  static resources: readonly Resource[] = [{ file: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8", folder: "cifar-100-binary" }];
  constructor(options: VisionDatasetOptions & { root: string }) {
    const opts = checkOptions("CIFAR100", options, DATASET_KEYS);

    const [d, t] = readCifar(new.target, "CIFAR100", opts.root, "cifar-100-binary", [(opts.train ?? true) ? "train.bin" : "test.bin"], 2, opts);
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
