/**
 * @module torchlight/torch/internal: the engine's machinery for torchlight's own layers and
 * tests: the c10d bindings (rendezvous store, process groups, the Reducer) and the default
 * process group's state. Not public: names here may change without notice.
 */
export * as c10d from "./c10d.js";
export { defaultGroupInfo, setDefaultGroupInfo, type DefaultGroupInfo } from "./distributed_state.js";
