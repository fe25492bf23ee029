/**
 * @module torchlight/vision/transforms: image transforms, as `torchvision.transforms`.
 *
 * Each transform takes an `Image` (HWC uint8, what datasets return) or a Tensor (C×H×W, what
 * `toTensor` returns) and gives the same kind back, except `toTensor`. Geometry follows
 * torchvision's tensor code path (crops and flips are exact; `resize` is bilinear with
 * `antialias` on by default, as torchvision's since 0.17). Random transforms
 * draw the same numbers as torchvision (same calls on the same generator), from the
 * DataLoader worker's own Generator inside a worker thread, else from the default one.
 * Transforms made by these factories can be rebuilt in DataLoader workers (`spec()`).
 */
import { checkOptions, pyArgs, required } from "../util/validate.js";
import * as torch from "../torch/index.js";
import { Tensor } from "../torch/index.js";
import { getWorkerInfo } from "../data/index.js";
import { Image } from "./image.js";

export type ImageLike = Image | Tensor;
/** A transform: callable, and describable so that a worker thread can rebuild it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Transform<I = any, O = any> {
  (input: I): O;
  /** How to rebuild it (`[factory name, ...args]`), or undefined for a custom function. */
  spec?: TransformSpec;
}
export type TransformSpec = [string, ...unknown[]];

const gen = () => getWorkerInfo()?.generator;
const opts = () => { const g = gen(); return g ? { generator: g } : {}; };
/** Python's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const pair = (s: number | [number, number]): [number, number] => (typeof s === "number" ? [s, s] : [s[0], s[1]]);

function make<I, O>(fn: (x: I) => O, spec: TransformSpec): Transform<I, O> {
  const t = fn as Transform<I, O>;
  t.spec = spec;
  return t;
}

/** Runs `fn` in a tidy scope that keeps the resulting image's tensor (tidy only sees Tensors, arrays and plain objects). */
function tidyImage(fn: () => ImageLike): ImageLike {
  let isImage = false;
  const t = torch.tidy(() => { const r = fn(); isImage = r instanceof Image; return r instanceof Image ? r.data : r; });
  return isImage ? new Image(t) : t;
}

/** Applies an op to the C×H×W view of an image, giving back the input's kind. */
function onCHW(img: ImageLike, f: (chw: Tensor) => Tensor): ImageLike {
  if (img instanceof Image) return new Image(torch.tidy(() => f(img.data.permute(2, 0, 1)).permute(1, 2, 0).contiguous()));
  if (img instanceof Tensor) return f(img);
  throw new TypeError(`transform: expected an Image or a Tensor but received ${img === null ? "null" : typeof img}`);
}
const hw = (img: ImageLike): [number, number] =>
  img instanceof Image ? [img.height, img.width] : [img.size(-2), img.size(-1)];

/** Runs transforms in order. */
export function compose(ts: Transform[]): Transform {  // Transform = Transform<any, any>: stages of any types
  const specs = ts.map((t) => t.spec);
  return make((x: unknown) => ts.reduce((acc, t) => t(acc), x), specs.every((s) => s !== undefined) ? ["compose", specs] : undefined as unknown as TransformSpec);
}

/** Image (HWC uint8) → float32 Tensor C×H×W in [0, 1]; a float tensor passes through. */
export function toTensor(): Transform<ImageLike, Tensor> {
  return make((img: ImageLike) => {
    if (img instanceof Tensor) return img;
    if (!(img instanceof Image)) throw new TypeError(`toTensor: expected an Image but received ${typeof img}`);
    // uint8 / 255 divides in float32, the same arithmetic as torchvision's .to(float32).div(255), in one op
    return torch.tidy(() => img.data.permute(2, 0, 1).contiguous().div(255));
  }, ["toTensor"]);
}

/** `(x - mean) / std` per channel of a float C×H×W tensor. */
export function normalize(mean: number[], std: number[]): Transform<Tensor, Tensor> {
  if (std.some((s) => s === 0)) throw new RangeError(`normalize: std evaluated to zero after conversion to float32, leading to division by zero (std = [${std.join(", ")}])`);
  // mean and std as (C, 1, 1) tensors of the input's dtype and device, made once per kind
  const cache = new Map<string, [Tensor, Tensor]>();
  return make((t: Tensor) => {
    if (!(t instanceof Tensor) || !t.dtype.startsWith("float")) throw new TypeError("normalize: expected a float Tensor (C×H×W); put toTensor() before normalize()");
    const key = `${t.dtype}@${t.device}`;
    let ms = cache.get(key);
    if (!ms) {
      ms = torch.tidy(() => [torch.tensor(mean, { dtype: t.dtype, device: t.device }).view(-1, 1, 1).keep(), torch.tensor(std, { dtype: t.dtype, device: t.device }).view(-1, 1, 1).keep()]);
      cache.set(key, ms);
    }
    return torch.tidy(() => t.sub(ms![0]).div(ms![1]));
  }, ["normalize", mean, std]);
}

/** Crops rows `top..top+height` and columns `left..left+width` (zero padding outside the image). */
export function crop(img: ImageLike, top: number, left: number, height: number, width: number): ImageLike {
  return onCHW(img, (t) => {
    const h = t.size(-2), w = t.size(-1);
    const right = left + width, bottom = top + height;
    if (left < 0 || top < 0 || right > w || bottom > h) {
      const pads = [Math.max(-left, 0), Math.max(right - w, 0), Math.max(-top, 0), Math.max(bottom - h, 0)];
      const cropped = t.slice(-2, Math.max(top, 0), Math.min(bottom, h)).slice(-1, Math.max(left, 0), Math.min(right, w));
      return torch.nn.functional.pad(cropped, pads, 0);
    }
    return t.slice(-2, top, bottom).slice(-1, left, right).contiguous();
  });
}

/** Pads: one number (all sides), [leftRight, topBottom] or [left, top, right, bottom]. */
export function pad(img: ImageLike, padding: number | number[], fill = 0): ImageLike {
  const p = typeof padding === "number" ? [padding, padding, padding, padding]
    : padding.length === 2 ? [padding[0]!, padding[1]!, padding[0]!, padding[1]!] : padding;
  if (p.length !== 4) throw new TypeError(`pad: padding must be a number or a list of 2 or 4 numbers; got [${String(padding)}]`);
  // [left, top, right, bottom] → F.pad's [left, right, top, bottom]
  return onCHW(img, (t) => torch.nn.functional.pad(t, [p[0]!, p[2]!, p[1]!, p[3]!], fill));
}

/**
 * Bilinear resize (torchvision's tensor path). `size`: the smaller edge, or [h, w].
 * `antialias` (default true, torchvision's default since 0.17; 0.16 and older default to false
 * for tensors) filters when shrinking.
 */
export function resizeImage(img: ImageLike, size: number | [number, number], maxSize?: number, antialias = true): ImageLike {
  const [h, w] = hw(img);
  let nh: number, nw: number;
  if (typeof size === "number") {
    const [short, long] = w <= h ? [w, h] : [h, w];
    let ns = size, nl = Math.trunc(size * long / short);
    if (maxSize !== undefined) {
      if (maxSize <= size) throw new RangeError(`resize: maxSize = ${maxSize} must be strictly greater than the requested size for the smaller edge size = ${size}`);
      if (nl > maxSize) { ns = Math.trunc(maxSize * ns / nl); nl = maxSize; }
    }
    [nw, nh] = w <= h ? [ns, nl] : [nl, ns];
    if (nw === w && nh === h) return img;
  } else [nh, nw] = size;
  return onCHW(img, (t) => torch.tidy(() => {
    const dtype = t.dtype;
    let x = t.ndim < 4 ? t.unsqueeze(0) : t;
    if (!dtype.startsWith("float")) x = x.to("float32");
    let y = torch.nn.functional.interpolate(x, { size: [nh, nw], mode: "bilinear", antialias });
    if (!dtype.startsWith("float")) y = y.round().to(dtype);
    return t.ndim < 4 ? y.squeeze(0) : y;
  }));
}

export function resize(size: number | [number, number], options?: { maxSize?: number; antialias?: boolean }): Transform<ImageLike, ImageLike> {
  const opts = checkOptions("resize", options, ["maxSize", "antialias"]);
  return make((img: ImageLike) => resizeImage(img, size, opts.maxSize, opts.antialias ?? true), ["resize", size, opts]);
}

/** The central `size` crop (padded with zeros when the image is smaller). */
export function centerCrop(size: number | [number, number]): Transform<ImageLike, ImageLike> {
  const [ch, cw] = pair(size);
  return make((img: ImageLike) => tidyImage(() => {
    let cur = img;
    let [h, w] = hw(cur);
    if (cw > w || ch > h) {
      cur = pad(cur, [cw > w ? Math.floor((cw - w) / 2) : 0, ch > h ? Math.floor((ch - h) / 2) : 0, cw > w ? Math.floor((cw - w + 1) / 2) : 0, ch > h ? Math.floor((ch - h + 1) / 2) : 0]);
      [h, w] = hw(cur);
      if (cw === w && ch === h) return cur;
    }
    return crop(cur, Math.trunc(pyRound((h - ch) / 2.0)), Math.trunc(pyRound((w - cw) / 2.0)), ch, cw);
  }), ["centerCrop", size]);
}

const randint = (low: number, high: number): number => torch.tidy(() => torch.randint(low, high, [1], opts()).item());

/** A random `size` crop, after optional padding (as torchvision's RandomCrop). */
export function randomCrop(size: number | [number, number], options?: { padding?: number | number[]; padIfNeeded?: boolean; fill?: number }): Transform<ImageLike, ImageLike> {
  const o = checkOptions("randomCrop", options, ["padding", "padIfNeeded", "fill"]);
  const [th, tw] = pair(size);
  return make((img: ImageLike) => tidyImage(() => {
    let cur = img;
    if (o.padding !== undefined) cur = pad(cur, o.padding, o.fill ?? 0);
    let [h, w] = hw(cur);
    if (o.padIfNeeded && w < tw) { cur = pad(cur, [tw - w, 0], o.fill ?? 0); [h, w] = hw(cur); }
    if (o.padIfNeeded && h < th) { cur = pad(cur, [0, th - h], o.fill ?? 0); [h, w] = hw(cur); }
    if (h < th || w < tw) throw new RangeError(`randomCrop: required crop size [${th}, ${tw}] is larger than input image size [${h}, ${w}]`);
    if (w === tw && h === th) return cur;
    const i = randint(0, h - th + 1), j = randint(0, w - tw + 1);
    return crop(cur, i, j, th, tw);
  }), ["randomCrop", size, o]);
}

/** Mirrors left-right with probability `p`. */
export function randomHorizontalFlip(p = 0.5): Transform<ImageLike, ImageLike> {
  return make((img: ImageLike) => {
    const r = torch.tidy(() => torch.rand([1], opts()).item());
    return r < p ? onCHW(img, (t) => t.flip(-1)) : img;
  }, ["randomHorizontalFlip", p]);
}

/** A random crop of random area and aspect ratio, resized to `size` (torchvision's draws). */
export function randomResizedCrop(size: number | [number, number], options?: { scale?: [number, number]; ratio?: [number, number]; antialias?: boolean }): Transform<ImageLike, ImageLike> {
  const o = checkOptions("randomResizedCrop", options, ["scale", "ratio", "antialias"]);
  const antialias = o.antialias ?? true;
  const out = pair(size), scale = o.scale ?? [0.08, 1.0], ratio = o.ratio ?? [3.0 / 4.0, 4.0 / 3.0];
  return make((img: ImageLike) => {
    const [height, width] = hw(img);
    const area = height * width;
    const logRatio = torch.tidy(() => torch.tensor(ratio).log().toArray() as number[]);
    const g = opts();
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = area * torch.tidy(() => torch.empty([1]).uniform_(scale[0], scale[1], g.generator).item());
      const aspect = torch.tidy(() => torch.empty([1]).uniform_(logRatio[0]!, logRatio[1]!, g.generator).exp().item());
      const w = Math.trunc(pyRound(Math.sqrt(targetArea * aspect)));
      const h = Math.trunc(pyRound(Math.sqrt(targetArea / aspect)));
      if (w > 0 && w <= width && h > 0 && h <= height) {
        const i = randint(0, height - h + 1), j = randint(0, width - w + 1);
        return tidyImage(() => resizeImage(crop(img, i, j, h, w), out, undefined, antialias));
      }
    }
    const inRatio = width / height;
    let w: number, h: number;
    if (inRatio < Math.min(...ratio)) { w = width; h = Math.trunc(pyRound(w / Math.min(...ratio))); }
    else if (inRatio > Math.max(...ratio)) { h = height; w = Math.trunc(pyRound(h * Math.max(...ratio))); }
    else { w = width; h = height; }
    return tidyImage(() => resizeImage(crop(img, Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w), out, undefined, antialias));
  }, ["randomResizedCrop", size, o]);
}

/** Wraps a function as a transform (it cannot be rebuilt in DataLoader workers). */
export function lambda<I, O>(fn: (x: I) => O): Transform<I, O> { return fn as Transform<I, O>; }

const FACTORIES: Record<string, (...a: never[]) => Transform> = {
  toTensor, normalize, resize, centerCrop, randomCrop, randomHorizontalFlip, randomResizedCrop,
} as unknown as Record<string, (...a: never[]) => Transform>;

/** Rebuilds a transform from its spec (in DataLoader workers). */
export function fromSpec(spec: TransformSpec): Transform {
  const [name, ...args] = spec;
  if (name === "compose") return compose((args[0] as TransformSpec[]).map(fromSpec));
  const f = FACTORIES[name];
  if (!f) throw new TypeError(`transforms: unknown transform spec ${JSON.stringify(name)}`);
  return (f as (...a: unknown[]) => Transform)(...args);
}

// ---- torchvision's classes -------------------------------------------------------------------

/**
 * Base of torchvision's transform classes. An instance is callable (`t(img)`), an
 * `instanceof` its class, and rebuildable in DataLoader workers (its `spec`), like the
 * factories' transforms it wraps.
 */
export abstract class TransformClass {
  /** Makes `t` this instance: its prototype and its fields (the constructor returns the result). */
  protected static adopt(self: TransformClass, t: Transform, fields: Record<string, unknown>): Transform {
    return Object.setPrototypeOf(Object.assign(t, fields), Object.getPrototypeOf(self)) as Transform;
  }
  /** torchvision's repr: `Normalize(mean=[0.5], std=[0.5])`. */
  toString(): string {
    const own = Object.entries(this).filter(([k]) => k !== "spec" && k !== "transforms").map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    return `${this.constructor.name}(${own.join(", ")})`;
  }
}
// instances are functions: keep call/apply/bind
Object.setPrototypeOf(TransformClass.prototype, Function.prototype);

/** `new transforms.Compose([new transforms.ToTensor(), new transforms.Normalize(mean, std)])`. */
export class Compose extends TransformClass {
  declare readonly transforms: Transform[];
  constructor(transforms: Transform[]) {
    super();
    if (!Array.isArray(transforms) || !transforms.every((t) => typeof t === "function")) {
      throw new TypeError(`Compose: expected a list of transforms (callables) but received ${Array.isArray(transforms) ? "a list with a non-callable entry" : typeof transforms}`);
    }
    return TransformClass.adopt(this, compose(transforms), { transforms: [...transforms] }) as unknown as Compose;
  }
  override toString(): string { return `Compose(\n${this.transforms.map((t) => `    ${String(t)}`).join("\n")}\n)`; }
}
/** Image (HWC uint8) → float32 Tensor C×H×W in [0, 1], as torchvision's `ToTensor`. */
export class ToTensor extends TransformClass {
  constructor() { super(); return TransformClass.adopt(this, toTensor(), {}) as unknown as ToTensor; }
}
/** `(x - mean) / std` per channel, as torchvision's `Normalize(mean, std)`. */
export class Normalize extends TransformClass {
  declare readonly mean: number[]; declare readonly std: number[];
  constructor(mean: number[] | { mean: number[]; std: number[] }, std?: number[]) {
    super();
    const a = pyArgs("Normalize", ["mean", "std"], [mean, std], []);
    return TransformClass.adopt(this, normalize(required("Normalize", "mean", a.mean as number[]), required("Normalize", "std", a.std as number[])), { mean: a.mean, std: a.std }) as unknown as Normalize;
  }
}
/** Resizes (bilinear, antialiased by default), as torchvision's `Resize(size, { maxSize, antialias })`. */
export class Resize extends TransformClass {
  declare readonly size: number | [number, number];
  constructor(size: number | [number, number], opts?: { maxSize?: number; antialias?: boolean }) {
    super();
    return TransformClass.adopt(this, resize(size, opts), { size }) as unknown as Resize;
  }
}
/** The central crop, as torchvision's `CenterCrop(size)`. */
export class CenterCrop extends TransformClass {
  declare readonly size: number | [number, number];
  constructor(size: number | [number, number]) { super(); return TransformClass.adopt(this, centerCrop(size), { size }) as unknown as CenterCrop; }
}
/** A random crop, as torchvision's `RandomCrop(size, { padding, padIfNeeded, fill })`. */
export class RandomCrop extends TransformClass {
  declare readonly size: number | [number, number];
  constructor(size: number | [number, number], opts?: { padding?: number | number[]; padIfNeeded?: boolean; fill?: number }) {
    super();
    return TransformClass.adopt(this, randomCrop(size, opts), { size }) as unknown as RandomCrop;
  }
}
/** Mirrors with probability `p`, as torchvision's `RandomHorizontalFlip(p)`. */
export class RandomHorizontalFlip extends TransformClass {
  declare readonly p: number;
  constructor(p: number | { p?: number } = 0.5) {
    super();
    const v = (pyArgs("RandomHorizontalFlip", ["p"], [p], []).p as number | undefined) ?? 0.5;
    return TransformClass.adopt(this, randomHorizontalFlip(v), { p: v }) as unknown as RandomHorizontalFlip;
  }
}
/** A random resized crop, as torchvision's `RandomResizedCrop(size, { scale, ratio, antialias })`. */
export class RandomResizedCrop extends TransformClass {
  declare readonly size: number | [number, number];
  constructor(size: number | [number, number], opts?: { scale?: [number, number]; ratio?: [number, number]; antialias?: boolean }) {
    super();
    return TransformClass.adopt(this, randomResizedCrop(size, opts), { size }) as unknown as RandomResizedCrop;
  }
}
/** Wraps a function, as torchvision's `Lambda(fn)` (it cannot be rebuilt in DataLoader workers). */
export class Lambda extends TransformClass {
  constructor(fn: (x: never) => unknown) {
    super();
    if (typeof fn !== "function") throw new TypeError(`Lambda: expected a function but received ${typeof fn}`);
    return TransformClass.adopt(this, ((x: never) => fn(x)) as Transform, {}) as unknown as Lambda;
  }
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-explicit-any
export interface TransformClass { (input: any): any; spec?: TransformSpec }
