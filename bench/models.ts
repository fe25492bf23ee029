// ResNet-18 built from torchlight.nn modules with torchvision's structure and parameter names
// (conv1, bn1, layer1.0.conv1, ..., fc), for the benchmarks until torchlight/vision has models.
import { nn, type Tensor } from "../src/torch/index.js";

class BasicBlock extends nn.Module {
  conv1: nn.Conv2d; bn1: nn.BatchNorm2d; relu = new nn.ReLU(); conv2: nn.Conv2d; bn2: nn.BatchNorm2d;
  downsample: nn.Sequential | null;
  constructor(cin: number, cout: number, stride: number) {
    super();
    this.conv1 = new nn.Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(cout);
    this.conv2 = new nn.Conv2d(cout, cout, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(cout);
    this.downsample = stride !== 1 || cin !== cout ? new nn.Sequential(new nn.Conv2d(cin, cout, 1, { stride, bias: false }), new nn.BatchNorm2d(cout)) : null;
  }
  override forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu_()));
    return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
  }
}

/** ResNet-18 with a 1-channel 7×7 stride-2 conv1 (the FashionMNIST variant). */
export class ResNet18 extends nn.Module {
  conv1 = new nn.Conv2d(1, 64, 7, { stride: 2, padding: 3, bias: false });
  bn1 = new nn.BatchNorm2d(64);
  relu = new nn.ReLU();
  maxpool = new nn.MaxPool2d(3, { stride: 2, padding: 1 });
  layer1 = new nn.Sequential(new BasicBlock(64, 64, 1), new BasicBlock(64, 64, 1));
  layer2 = new nn.Sequential(new BasicBlock(64, 128, 2), new BasicBlock(128, 128, 1));
  layer3 = new nn.Sequential(new BasicBlock(128, 256, 2), new BasicBlock(256, 256, 1));
  layer4 = new nn.Sequential(new BasicBlock(256, 512, 2), new BasicBlock(512, 512, 1));
  avgpool = new nn.AdaptiveAvgPool2d(1);
  fc = new nn.Linear(512, 10);
  override forward(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.bn1.forward(this.conv1.forward(x)).relu_());
    for (const l of [this.layer1, this.layer2, this.layer3, this.layer4]) y = l.forward(y);
    return this.fc.forward(this.avgpool.forward(y).flatten(1));
  }
}
