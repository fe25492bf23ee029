/**
 * @module torchlight/data/worker: the body of a DataLoader worker thread. It rebuilds the
 * dataset from its WorkerSpec, then answers "load these indices" with a collated batch whose
 * tensors are handed to the main thread without copies (torch.sharing).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as torch from "../torch/index.js";
import { datasetFromSpec, type Dataset, type WorkerSpec } from "./dataset.js";
import { defaultCollate } from "./collate.js";
import { setWorkerInfo } from "./worker_info.js";

export interface WorkerInit { spec: WorkerSpec; id: number; numWorkers: number; seed: string; collate: boolean; init?: WorkerSpec }
export type WorkerRequest = { task: number; indices: number[] } | { stop: true };
export type WorkerReply =
  | { ready: true }
  | { task: number; batch: unknown; tokens: number[] }
  | { task: number; error: { message: string; stack?: string; index?: number; name?: string } }
  | { fatal: { message: string; stack?: string } };

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  torch.setThreadNumThreads(1);  // as PyTorch's workers: loading must not compete with the training step's threads
  let dataset: Dataset;
  try {
    const spec = { ...init.spec, args: torch.sharing.decode(init.spec.args) as unknown[] };
    dataset = await datasetFromSpec(spec);
    const generator = new torch.Generator({ seed: BigInt(init.seed) });
    setWorkerInfo({ id: init.id, numWorkers: init.numWorkers, seed: BigInt(init.seed), dataset, generator });
    if (init.init) {
      const mod = (await import(init.init.module)) as Record<string, (...a: unknown[]) => unknown>;
      await mod[init.init.name]!(init.id, ...init.init.args);
    }
  } catch (e) {
    const err = e as Error;
    port.postMessage({ fatal: { message: err.message, ...(err.stack ? { stack: err.stack } : {}) } } satisfies WorkerReply);
    return;
  }
  const getAsync = typeof dataset.getItemAsync === "function" ? dataset.getItemAsync.bind(dataset) : null;
  port.on("message", async (msg: WorkerRequest) => {
    if ("stop" in msg) { port.close(); return; }
    let at: number | undefined;
    try {
      const tokens: number[] = [];
      let loaded: unknown[] | null = null;
      if (getAsync) loaded = await Promise.all(msg.indices.map((i) => getAsync(i).catch((e: unknown) => { at = i; throw e; })));
      const batch = torch.tidy(() => {
        const samples = loaded ?? msg.indices.map((i) => { at = i; return dataset.getItem(i); });
        at = undefined;
        return torch.sharing.encode(init.collate ? defaultCollate(samples) : samples, tokens);
      });
      if (loaded) torch.dispose(loaded);
      port.postMessage({ task: msg.task, batch, tokens } satisfies WorkerReply);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ task: msg.task, error: { message: err.message, name: err.name, ...(err.stack ? { stack: err.stack } : {}), ...(at !== undefined ? { index: at } : {}) } } satisfies WorkerReply);
    }
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

void main();
