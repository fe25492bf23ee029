/**
 * @module torchlight/vision/models: ResNet-18/34/50 with torchvision's structure, parameter
 * names and initialisation (so state dicts move between the two), and a small CNN.
 * @example
 * const model = models.resnet18({ numClasses: 10, inChannels: 1 });  // FashionMNIST variant
 */
import { checkOptions } from "../util/validate.js";
import { nn, type Tensor } from "../torch/index.js";

/** Options of the ResNet factories. */
export interface ResNetOptions {
  numClasses?: number;
  /**
   * Input channels (default 3). Any other number replaces conv1 after initialisation as the
   * seed does in Python (`model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)`): the new conv1
   * has `nn.Conv2d`'s default initialisation (std ≈ 0.082 for one channel), not torchvision's
   * fan-out Kaiming one (≈ 0.025), and the random stream is the seed's.
   */
  inChannels?: number;
  /** Zero-initialise the last BN of each residual branch (torchvision's `zero_init_residual`). */
  zeroInitResidual?: boolean;
}
const RESNET_OPTIONS = ["numClasses", "inChannels", "zeroInitResidual"] as const;

/** The 3×3 + 3×3 block of ResNet-18/34. */
export class BasicBlock extends nn.Module {
  static readonly expansion = 1;
  conv1: nn.Conv2d; bn1: nn.BatchNorm2d; relu = new nn.ReLU(); conv2: nn.Conv2d; bn2: nn.BatchNorm2d;
  downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = new nn.Conv2d(inplanes, planes, 3, { stride, padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = new nn.Conv2d(planes, planes, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(planes);
    this.downsample = downsample;
  }
  override forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu_()));
    return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
  }
}

/** The 1×1 + 3×3 + 1×1 block of ResNet-50 (stride on the 3×3, as torchvision's v1.5). */
export class Bottleneck extends nn.Module {
  static readonly expansion = 4;
  conv1: nn.Conv2d; bn1: nn.BatchNorm2d; conv2: nn.Conv2d; bn2: nn.BatchNorm2d; conv3: nn.Conv2d; bn3: nn.BatchNorm2d;
  relu = new nn.ReLU();
  downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = new nn.Conv2d(inplanes, planes, 1, { bias: false });
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = new nn.Conv2d(planes, planes, 3, { stride, padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(planes);
    this.conv3 = new nn.Conv2d(planes, planes * 4, 1, { bias: false });
    this.bn3 = new nn.BatchNorm2d(planes * 4);
    this.downsample = downsample;
  }
  override forward(x: Tensor): Tensor {
    let out = this.bn1.forward(this.conv1.forward(x)).relu_();
    out = this.bn2.forward(this.conv2.forward(out)).relu_();
    out = this.bn3.forward(this.conv3.forward(out));
    return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
  }
}

type Block = typeof BasicBlock | typeof Bottleneck;

/** torchvision's ResNet: conv1, bn1, relu, maxpool, layer1..4, avgpool, fc. */
export class ResNet extends nn.Module {
  conv1: nn.Conv2d; bn1: nn.BatchNorm2d; relu = new nn.ReLU(); maxpool = new nn.MaxPool2d(3, { stride: 2, padding: 1 });
  layer1: nn.Sequential; layer2: nn.Sequential; layer3: nn.Sequential; layer4: nn.Sequential;
  avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
  fc: nn.Linear;
  private inplanes = 64;
  constructor(block: Block, layers: [number, number, number, number], options?: ResNetOptions) {
    super();
    const opts = checkOptions("ResNet", options, RESNET_OPTIONS);
    const numClasses = opts.numClasses ?? 1000, inChannels = opts.inChannels ?? 3;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new TypeError(`ResNet: numClasses must be a positive integer; got ${numClasses}`);
    if (!Number.isInteger(inChannels) || inChannels < 1) throw new TypeError(`ResNet: inChannels must be a positive integer; got ${inChannels}`);
    this.conv1 = new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new nn.BatchNorm2d(64);
    this.layer1 = this.makeLayer(block, 64, layers[0]);
    this.layer2 = this.makeLayer(block, 128, layers[1], 2);
    this.layer3 = this.makeLayer(block, 256, layers[2], 2);
    this.layer4 = this.makeLayer(block, 512, layers[3], 2);
    this.fc = new nn.Linear(512 * block.expansion, numClasses);
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.weight, { mode: "fan_out", nonlinearity: "relu" });
      else if (m instanceof nn.BatchNorm2d) { nn.init.constant_(m.weight!, 1); nn.init.constant_(m.bias!, 0); }
    }
    if (opts.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck) nn.init.constant_(m.bn3.weight!, 0);
        else if (m instanceof BasicBlock) nn.init.constant_(m.bn2.weight!, 0);
      }
    }
    if (inChannels !== 3) {
      // As the Python seed does it: `model.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2),
      // padding=(3, 3), bias=False)` after torchvision built and initialised the 3-channel model, so
      // the new conv1 has nn.Conv2d's default initialisation and the random stream matches.
      const old = this.conv1;
      this.conv1 = new nn.Conv2d(inChannels, 64, [7, 7], { stride: [2, 2], padding: [3, 3], bias: false });
      old.weight.dispose();
    }
  }
  private makeLayer(block: Block, planes: number, blocks: number, stride = 1): nn.Sequential {
    let downsample: nn.Sequential | null = null;
    if (stride !== 1 || this.inplanes !== planes * block.expansion) {
      downsample = new nn.Sequential(new nn.Conv2d(this.inplanes, planes * block.expansion, 1, { stride, bias: false }), new nn.BatchNorm2d(planes * block.expansion));
    }
    const layers: nn.Module[] = [new block(this.inplanes, planes, stride, downsample)];
    this.inplanes = planes * block.expansion;
    for (let i = 1; i < blocks; i++) layers.push(new block(this.inplanes, planes));
    return new nn.Sequential(...layers);
  }
  override forward(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.bn1.forward(this.conv1.forward(x)).relu_());
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    return this.fc.forward(this.avgpool.forward(y).flatten(1));
  }
}

export const resnet18 = (opts: ResNetOptions = {}): ResNet => new ResNet(BasicBlock, [2, 2, 2, 2], opts);
export const resnet34 = (opts: ResNetOptions = {}): ResNet => new ResNet(BasicBlock, [3, 4, 6, 3], opts);
export const resnet50 = (opts: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 6, 3], opts);

/** Two conv/ReLU/max-pool stages and two linear layers; any input size (adaptive pooling to 7×7). */
export class SimpleCNN extends nn.Module {
  features: nn.Sequential;
  classifier: nn.Sequential;
  constructor(options?: { numClasses?: number; inChannels?: number }) {
    super();
    const opts = checkOptions("SimpleCNN", options, ["numClasses", "inChannels"]);
    this.features = new nn.Sequential(
      new nn.Conv2d(opts.inChannels ?? 1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.AdaptiveAvgPool2d([7, 7]),
    );
    this.classifier = new nn.Sequential(new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, opts.numClasses ?? 10));
  }
  override forward(x: Tensor): Tensor { return this.classifier.forward(this.features.forward(x)); }
}
export const simpleCnn = (opts: { numClasses?: number; inChannels?: number } = {}): SimpleCNN => new SimpleCNN(opts);
