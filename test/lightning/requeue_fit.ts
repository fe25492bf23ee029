// A Lightning fit for requeue.test.ts: `node requeue_fit.js <rootDir> <signalAtStep>` (-1: no
// signal). At that global step (when no hpc_ckpt_*.ckpt exists yet) the script sends itself
// SIGUSR1, as `sbatch --signal=USR1@90` would; it prints one JSON line: the global step fit
// ended at and the parameters.
import { existsSync, readdirSync } from "node:fs";
import * as torch from "../../src/torch/index.js";
import { nn, optim, type Tensor } from "../../src/torch/index.js";
import { DataLoader, TensorDataset } from "../../src/data/index.js";
import * as pl from "../../src/lightning/index.js";

const [root = "/tmp/requeue", atArg = "-1"] = process.argv.slice(2);
const at = Number(atArg);

class Net extends pl.LightningModule {
  net = new nn.Sequential(new nn.Linear(6, 12), new nn.Tanh(), new nn.Dropout(0.1), new nn.Linear(12, 3));
  lossFn = new nn.CrossEntropyLoss();
  override forward(x: Tensor): Tensor { return this.net.forward(x) as Tensor; }
  trainingStep([x, y]: Tensor[]): Tensor {
    const hpc = existsSync(root) && readdirSync(root).some((f) => f.startsWith("hpc_ckpt_"));
    if (this.trainer.globalStep === at && !hpc) process.kill(process.pid, "SIGUSR1");
    return this.lossFn.forward(this.forward(x!), y!);
  }
  configureOptimizers() { return new optim.SGD(this.parameters(), { lr: 0.05, momentum: 0.9 }); }
}

pl.seedEverything(3);
const x = torch.randn([64, 6]), y = torch.randint(0, 3, [64]);
const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true });
const model = new Net();
const trainer = new pl.Trainer({ maxEpochs: 3, defaultRootDir: root, logger: false, enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false });
await trainer.fit(model, loader);
const params = model.parameters().map((p) => Array.from(p.data() as Float32Array));
console.log(JSON.stringify({ globalStep: trainer.globalStep, params }));
