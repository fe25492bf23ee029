// Batch normalisation whose statistics span every rank of a process group, as
// torch.nn.SyncBatchNorm, written with portable ATen ops so it runs on CPU (Gloo) and CUDA.
// An autograd function: forward all-gathers (mean, M2, count), backward all-reduces
// (sum dy, sum dy*(x-mean)). No N-API here; distributed.cpp's syncBatchNorm is the entry point.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace tl {

// `group`: an id of c10d_groups; undefined tensors for absent weight/bias/running statistics.
at::Tensor sync_batch_norm(int64_t group, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& running_mean,
                           const at::Tensor& running_var, double eps, double momentum);

}  // namespace tl
