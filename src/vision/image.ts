/**
 * @module torchlight/vision/image: `Image`, what the vision datasets return before
 * `toTensor` (PIL's role in torchvision): 8-bit pixels, height × width × channels, held in a
 * uint8 Tensor (often a view into the dataset's storage, so no copy is made per sample).
 */
import type { Tensor } from "../torch/index.js";

export class Image {
  /** @param data uint8 tensor of shape [height, width, channels] */
  constructor(readonly data: Tensor) {
    if (data.dtype !== "uint8" || data.ndim !== 3) {
      throw new TypeError(`Image: expected a uint8 tensor of shape [height, width, channels] but received ${data.dtype} [${data.shape.join(", ")}]`);
    }
  }
  get height(): number { return this.data.size(0); }
  get width(): number { return this.data.size(1); }
  get channels(): number { return this.data.size(2); }
  /** PIL's mode name: "L" (grey), "RGB" or "RGBA". */
  get mode(): string { return ({ 1: "L", 3: "RGB", 4: "RGBA" } as Record<number, string>)[this.channels] ?? `${this.channels}-channel`; }
  /** [width, height], as PIL's `size`. */
  get size(): [number, number] { return [this.width, this.height]; }
}
