/**
 * @module torchlight/vision: datasets, transforms and models, as `torchvision`.
 * @example
 * import { FashionMNIST, transforms, models } from "torchlight/vision";
 * const data = new FashionMNIST({ train: true, transform: transforms.compose([transforms.toTensor(), transforms.normalize([0.28604], [0.32025])]) });
 */
export { Image } from "./image.js";
export * as datasets from "./datasets.js";
export { MNIST, FashionMNIST, CIFAR10, CIFAR100, ImageFolder, DatasetNotFoundError, type VisionDatasetOptions } from "./datasets.js";
export { downloadResources, type DownloadPlan, type Resource } from "./download.js";
export * as transforms from "./transforms.js";
export * as models from "./models.js";
