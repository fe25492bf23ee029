/** @module torchlight/torch/nn: neural-network building blocks (functional API so far). */
export * as functional from "./functional.js";
