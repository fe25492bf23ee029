/**
 * @module torchlight/distributed: `torch.distributed` and DistributedDataParallel over
 * libtorch's c10d, and Lightning's cluster environments.
 * @example
 * import { initProcessGroup, allReduce, DistributedDataParallel } from "torchlight/distributed";
 * await initProcessGroup({ backend: "gloo" });
 * await allReduce(t);                        // summed over every rank
 */
export {
  initProcessGroup, destroyProcessGroup, isInitialized, getRank, getWorldSize, newGroup, defaultGroup,
  allReduce, broadcast, allGather, reduceScatter, gather, scatter, barrier, send, recv, broadcastObject, allGatherObject,
  ReduceOp, ProcessGroup, Work, DistributedError,
  type InitOptions, type CollectiveOptions, type ReduceOpName, type DistributedErrorCode,
} from "./process_group.js";
export { DistributedDataParallel, type DDPOptions } from "./ddp.js";
export { SyncBatchNorm, type SyncBatchNormOptions } from "./sync_batchnorm.js";
export {
  ClusterEnvironment, LightningEnvironment, TorchElasticEnvironment, SLURMEnvironment, MPIEnvironment, KubeflowEnvironment,
  LSFEnvironment, detectClusterEnvironment, firstSlurmHost, ClusterEnvironmentError,
} from "./environments.js";
