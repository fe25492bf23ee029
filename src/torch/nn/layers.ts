/**
 * @module torchlight/torch/nn/layers: the layers of `torch.nn`, with PyTorch's parameter
 * names, shapes, default initialisation (same draws, so the same seed gives the same
 * weights) and forward semantics; one file per family, as PyTorch's `nn/modules/`.
 */
export { emptyParameter, type FactoryOptions, type Pair } from "./layer_args.js";
export { Linear, Bilinear, Identity, Flatten, type LinearOptions } from "./linear.js";
export { Conv1d, Conv2d, ConvTranspose2d, type ConvOptions } from "./conv.js";
export { BatchNormBase, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, batchNormArgs, type BatchNormOptions } from "./normalization.js";
export {
  Dropout, Embedding, ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, LogSoftmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, type EmbeddingOptions,
} from "./activation.js";
