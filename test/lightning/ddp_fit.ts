// A script for the DDP test of lightning.test.ts: `node ddp_fit.js <devices>` trains with
// Trainer({ strategy: "ddp", devices }) — with 2, the Trainer starts the second process
// itself by re-running this script — and rank 0 prints the final parameters as JSON.
// Per-process batch 8 with 2 devices, 16 with 1: the same samples per step. `node ddp_fit.js
// <devices> <numNodes>` under a launcher (torchlight launch, torchrun) joins its processes.
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, TensorDataset } from "../../src/data/index.js";
import * as pl from "../../src/lightning/index.js";

class Net extends pl.LightningModule {
  net = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 2));
  override forward(x: Tensor): Tensor { return this.net.forward(x); }
  trainingStep([x, y]: Tensor[]): Tensor {
    const loss = this.forward(x!).sub(y!).pow(2).mean();
    this.log("loss", loss, { syncDist: true, onEpoch: true });
    return loss;
  }
  configureOptimizers(): optim.Optimizer<object> { return new optim.SGD(this.parameters(), { lr: 0.05, momentum: 0.9 }); }
}

const devices = Number(process.argv[2] ?? 1), numNodes = Number(process.argv[3] ?? 1);
const g = new torch.Generator({ seed: 1 });
const ds = new TensorDataset(torch.randn([64, 8], { generator: g }), torch.randn([64, 2], { generator: g }));
// a different initialisation per process: DDP must broadcast rank 0's
torch.manualSeed(100 + Number(process.env.LOCAL_RANK ?? 0));
const model = new Net();
const trainer = new pl.Trainer({ strategy: devices * numNodes > 1 ? "ddp" : "auto", devices, numNodes, accelerator: "cpu", maxEpochs: 3,
  enableProgressBar: false, enableModelSummary: false, logger: false, enableCheckpointing: false });
await trainer.fit(model, { trainDataloaders: new DataLoader(ds, { batchSize: 16 / (devices * numNodes) }) });
if (trainer.isGlobalZero) {
  const w = torch.cat(model.parameters().map((p) => p.flatten()));
  console.log(JSON.stringify({ weights: w.toArray(), worldSize: trainer.worldSize, rank: trainer.globalRank, loss: trainer.callbackMetrics.loss }));
}
