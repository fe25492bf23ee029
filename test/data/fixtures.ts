// Datasets that DataLoader worker threads rebuild from this module (see WorkerSpec).
import * as torch from "../../src/torch/index.js";
import type { Tensor } from "../../src/torch/index.js";
import { Dataset, type WorkerSpec } from "../../src/data/index.js";

/** Sample i is a 2-vector filled with i; getItem throws at index `bad`. */
export class FailingDataset extends Dataset<Tensor> {
  constructor(readonly n: number, readonly bad: number) { super(); }
  get length(): number { return this.n; }
  getItem(i: number): Tensor {
    if (i === this.bad) throw new Error(`cannot decode sample ${i}`);
    return torch.full([2], i);
  }
  override workerSpec(): WorkerSpec { return { module: import.meta.url, name: "FailingDataset", args: [this.n, this.bad] }; }
}
