// SyncBatchNorm's autograd function (see sync_batchnorm.h). No N-API here.
#include "sync_batchnorm.h"

#include <torch/csrc/autograd/custom_function.h>

#include "c10d_groups.h"
#include "convert.h"

namespace tl {
namespace {

// Batch normalisation whose statistics span every rank of a group, as torch.nn.SyncBatchNorm.
// PyTorch 1.13 runs it on CUDA only (its batch_norm_stats kernels have no CPU version); this
// one is written with portable ATen ops, so it runs on CPU and CUDA alike. Forward: each rank
// computes (mean, M2, count) per channel, one all_gather exchanges them (counts may differ per
// rank, including zero), and Chan's parallel formula combines them. Backward: one all_reduce
// of (sum dy, sum dy*(x-mean)) gives the input gradient of the global normalisation; the
// weight and bias gradients stay local (DistributedDataParallel averages them), as in PyTorch.
// The collectives are waited on the calling thread, as PyTorch's are.

c10::intrusive_ptr<c10d::ProcessGroup> pg_by_id(int64_t id, const char* what) {
  c10d_groups::Group* g = c10d_groups::find(static_cast<uint32_t>(id));
  if (!g) throw ArgError(std::string("SyncBatchNorm ") + what + ": its process group was destroyed; keep the group alive while the model trains");
  return g->pg;
}

std::vector<int64_t> non_channel_dims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

std::vector<int64_t> channel_shape(const at::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

at::ScalarType acc_type(const at::Tensor& x) {
  auto t = x.scalar_type();
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

struct SyncBatchNormFn : public torch::autograd::Function<SyncBatchNormFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& running_mean, const at::Tensor& running_var,
                            double eps, double momentum, int64_t group) {
    auto pg = pg_by_id(group, "forward");
    at::Tensor x = input.contiguous().to(acc_type(input));
    const int64_t channels = x.size(1);
    const int64_t n = channels == 0 ? 0 : x.numel() / channels;
    const auto dims = non_channel_dims(x);
    const auto cshape = channel_shape(x);
    auto stat_opts = x.options().dtype(at::kDouble);
    at::Tensor local;
    if (n > 0) {
      auto [var, mean] = at::var_mean(x, dims, /*unbiased=*/false);
      local = at::cat({mean.to(at::kDouble), var.to(at::kDouble) * static_cast<double>(n), at::full({1}, static_cast<double>(n), stat_opts)});
    } else {
      local = at::zeros({2 * channels + 1}, stat_opts);
    }
    // all_gather, not all_reduce: the counts may differ between ranks
    std::vector<std::vector<at::Tensor>> gathered(1);
    for (int i = 0; i < pg->getSize(); ++i) gathered[0].push_back(at::empty_like(local));
    std::vector<at::Tensor> in{local};
    pg->allgather(gathered, in)->wait();
    at::Tensor all = at::stack(gathered[0]);  // (world, 2C + 1)
    at::Tensor means = all.narrow(1, 0, channels), m2s = all.narrow(1, channels, channels), counts = all.narrow(1, 2 * channels, 1);
    const double total = counts.sum().item<double>();
    if (total <= 1) {
      throw ArgError("SyncBatchNorm: expected more than 1 value per channel when training, got " + std::to_string(static_cast<int64_t>(total)) +
                     " over all ranks (input of shape " + c10::str(input.sizes()) + " here); use a larger batch or BatchNorm in eval mode");
    }
    at::Tensor mean = (means * counts).sum(0) / total;
    at::Tensor var = (m2s + counts * (means - mean).square()).sum(0) / total;
    at::Tensor invstd = (var + eps).rsqrt();
    if (running_mean.defined()) running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
    if (running_var.defined()) running_var.mul_(1 - momentum).add_((var * (total / (total - 1))).to(running_var.scalar_type()), momentum);
    mean = mean.to(x.scalar_type());
    invstd = invstd.to(x.scalar_type());
    at::Tensor scale = weight.defined() ? invstd * weight.to(x.scalar_type()) : invstd;
    at::Tensor out = (x - mean.view(cshape)) * scale.view(cshape);
    if (bias.defined()) out.add_(bias.to(x.scalar_type()).view(cshape));
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["total"] = total;
    ctx->saved_data["group"] = group;
    ctx->saved_data["dtype"] = static_cast<int64_t>(input.scalar_type());
    return out.to(input.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double total = ctx->saved_data["total"].toDouble();
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const auto dims = non_channel_dims(x);
    const auto cshape = channel_shape(x);
    const int64_t channels = x.size(1);
    at::Tensor dy = grads[0].contiguous().to(x.scalar_type());
    at::Tensor xmu = x - mean.view(cshape);
    at::Tensor sum_dy = dy.sum(dims), sum_dy_xmu = (dy * xmu).sum(dims);
    at::Tensor grad_input, grad_weight, grad_bias;
    if (weight.defined() && ctx->needs_input_grad(1)) grad_weight = (sum_dy_xmu * invstd).to(weight.scalar_type());
    if (weight.defined() && ctx->needs_input_grad(2)) grad_bias = sum_dy.to(weight.scalar_type());
    if (ctx->needs_input_grad(0)) {
      auto pg = pg_by_id(ctx->saved_data["group"].toInt(), "backward");
      std::vector<at::Tensor> combined{at::cat({sum_dy, sum_dy_xmu})};
      pg->allreduce(combined)->wait();
      at::Tensor g_dy = combined[0].narrow(0, 0, channels), g_dy_xmu = combined[0].narrow(0, channels, channels);
      at::Tensor scale = weight.defined() ? invstd * weight.to(x.scalar_type()) : invstd;
      grad_input = (dy - (g_dy / total).view(cshape) - xmu * (invstd.square() * g_dy_xmu / total).view(cshape)) * scale.view(cshape);
      grad_input = grad_input.to(dtype);
    }
    return {grad_input, grad_weight, grad_bias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor sync_batch_norm(int64_t group, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& running_mean,
                           const at::Tensor& running_var, double eps, double momentum) {
  return SyncBatchNormFn::apply(input, weight, bias, running_mean, running_var, eps, momentum, group);
}

}  // namespace tl
