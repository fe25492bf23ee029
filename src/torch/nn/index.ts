/**
 * @module torchlight/torch/nn: neural-network building blocks, as `torch.nn`.
 * @example
 * import { nn } from "torchlight/torch";
 * const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
 * const loss = new nn.CrossEntropyLoss().forward(model.forward(x), y);
 */
export * as functional from "./functional.js";
export * as init from "./init.js";
export * as utils from "./utils.js";
export { Module, Parameter, StateDictError, type StateDict, type IncompatibleKeys, type RemovableHandle, type ForwardHook, type ForwardPreHook } from "./module.js";
export {
  Linear, Bilinear, Identity, Flatten, Conv1d, Conv2d, ConvTranspose2d, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm,
  Dropout, Embedding, ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, LogSoftmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
  type ConvOptions, type BatchNormOptions, type FactoryOptions, type LinearOptions, type EmbeddingOptions,
} from "./layers.js";
export { Sequential, ModuleList, ModuleDict } from "./containers.js";
export { CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss } from "./loss.js";
export { MultiheadAttention, TransformerEncoderLayer, multiHeadAttentionForward, type AttentionOptions, type AttentionWeights, type MultiheadAttentionOptions, type TransformerEncoderLayerOptions } from "./transformer.js";
