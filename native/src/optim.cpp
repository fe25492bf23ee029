// Optimizer updates and gradient clipping, one native call per parameter group.
// Each update is PyTorch 1.13's `_single_tensor_*` function of torch/optim, op for op and
// in the same order, so results are bit-identical to Python's default (foreach=False) path;
// running the loop here instead of in JS removes ~6 JS->native calls per parameter.
//
// Calling convention: params is an array of handles; `slots` holds K handles per parameter
// (the optimizer's state tensors, 0 where not created yet). Parameters whose grad is
// undefined are skipped, as Python skips `p.grad is None`. The result is an array like
// `slots` holding the handles of state tensors created by this call (0 elsewhere).
#include <c10/core/GradMode.h>

#include <cmath>
#include <limits>

#include "compat.h"
#include "convert.h"
#include "entries.h"

namespace tl {
namespace {


uint32_t handle_at(const Call& c, size_t i, uint32_t k, const char* name) {
  uint32_t h = 0;
  napi_value v = element(c, i, k);
  napi_valuetype t;
  napi_typeof(c.env, v, &t);
  if (t == napi_null || t == napi_undefined) return 0;
  if (napi_get_value_uint32(c.env, v, &h) != napi_ok) arg_error(c, i, name, "an array of Tensor handles (or 0)");
  return h;
}

at::Tensor* slot_tensor(const Call& c, size_t i, uint32_t k, const char* name) {
  uint32_t h = handle_at(c, i, k, name);
  if (h == 0) return nullptr;
  Slot* s = table().find(h);
  if (!s) throw DisposedError(std::string(c.op) + "(): optimizer state tensor #" + std::to_string(k) + " was disposed; optimizer state must outlive the optimizer");
  return &s->tensor;
}

// Reads params (arg 0) and their K-wide state slots (arg 1), runs `update` for each param
// that has a grad, and returns the handles of state created on the way.
template <size_t K, typename F>
napi_value for_each_param(Call& c, F update) {
  uint32_t n = array_length(c, 0, "params", "an array of Tensor handles");
  uint32_t ns = array_length(c, 1, "state", "an array of state handles");
  if (ns != n * K) throw ArgError(std::string(c.op) + "(): expected " + std::to_string(n * K) + " state slots (" + std::to_string(K) + " per parameter) but received " + std::to_string(ns));
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> created(n * K);
  for (uint32_t p = 0; p < n; ++p) {
    at::Tensor& param = const_cast<at::Tensor&>(tensor_at(c, element(c, 0, p), 0, "params"));
    const at::Tensor& g = param.grad();
    if (!g.defined()) continue;
    if (g.is_sparse()) throw ArgError(std::string(c.op) + "(): sparse gradients are not supported");
    std::array<at::Tensor*, K> st{};
    for (size_t k = 0; k < K; ++k) st[k] = slot_tensor(c, 1, p * K + k, "state");
    // a state tensor made here lives in `created` until it is handed to JS
    auto make = [&](size_t k, at::Tensor t) -> at::Tensor& {
      created[p * K + k] = std::move(t);
      st[k] = &created[p * K + k];
      return *st[k];
    };
    update(param, g, st, make);
  }
  napi_value out;
  napi_create_array_with_length(c.env, created.size(), &out);
  for (uint32_t k = 0; k < created.size(); ++k) {
    napi_value v;
    if (created[k].defined()) v = wrap(c, std::move(created[k]));
    else napi_create_uint32(c.env, 0, &v);
    napi_set_element(c.env, out, k, v);
  }
  return out;
}

// sgdStep(params, [momentum_buffer], lr, momentum, dampening, weightDecay, nesterov, maximize)
TL_FN(sgdStep) {
  TL_OP_BEGIN("sgd_step", 8);
  double lr = f64(c, 2, "lr"), momentum = f64(c, 3, "momentum"), dampening = f64(c, 4, "dampening");
  double wd = f64(c, 5, "weightDecay");
  bool nesterov = boolean(c, 6, "nesterov"), maximize = boolean(c, 7, "maximize");
  return for_each_param<1>(c, [&](at::Tensor& param, const at::Tensor& grad, auto& st, auto make) {
    at::Tensor d_p = maximize ? grad.neg() : grad;
    if (wd != 0) d_p = d_p.add(param, wd);
    if (momentum != 0) {
      at::Tensor buf;
      if (!st[0]) {
        buf = make(0, d_p.clone().detach());
      } else {
        buf = *st[0];
        buf.mul_(momentum).add_(d_p, 1 - dampening);
      }
      d_p = nesterov ? d_p.add(buf, momentum) : buf;
    }
    param.add_(d_p, -lr);
  });
  TL_OP_END;
}

// adamStep(params, [step, exp_avg, exp_avg_sq, max_exp_avg_sq], lr, beta1, beta2, eps,
//          weightDecay, amsgrad, maximize, decoupled)   decoupled: AdamW
TL_FN(adamStep) {
  TL_OP_BEGIN("adam_step", 11);
  double lr = f64(c, 2, "lr"), beta1 = f64(c, 3, "beta1"), beta2 = f64(c, 4, "beta2"), eps = f64(c, 5, "eps");
  double wd = f64(c, 6, "weightDecay");
  bool amsgrad = boolean(c, 7, "amsgrad"), maximize = boolean(c, 8, "maximize"), decoupled = boolean(c, 9, "decoupled");
  return for_each_param<4>(c, [&](at::Tensor& param, const at::Tensor& g, auto& st, auto make) {
    if (!st[0]) make(0, at::zeros({}, at::kFloat));
    if (!st[1]) make(1, at::zeros_like(param, at::MemoryFormat::Preserve));
    if (!st[2]) make(2, at::zeros_like(param, at::MemoryFormat::Preserve));
    if (amsgrad && !st[3]) make(3, at::zeros_like(param, at::MemoryFormat::Preserve));
    at::Tensor grad = maximize ? g.neg() : g;
    at::Tensor& step_t = *st[0];
    at::Tensor& exp_avg = *st[1];
    at::Tensor& exp_avg_sq = *st[2];
    step_t.add_(1);
    if (decoupled) param.mul_(1 - lr * wd);
    else if (wd != 0) grad = grad.add(param, wd);
    compat::running_average_(exp_avg, grad, beta1);
    exp_avg_sq.mul_(beta2).addcmul_(grad, decoupled ? grad : grad.conj(), 1 - beta2);
    double step = step_t.item<double>();
    double bias_correction1 = 1 - std::pow(beta1, step);
    double bias_correction2 = 1 - std::pow(beta2, step);
    double step_size = lr / bias_correction1;
    double bias_correction2_sqrt = std::sqrt(bias_correction2);
    // Python: (v.sqrt() / bc2_sqrt).add_(eps); dividing in place runs the same kernel
    // without a second temporary
    at::Tensor denom;
    if (amsgrad) {
      at::Tensor& max_sq = *st[3];
      at::maximum_out(max_sq, max_sq, exp_avg_sq);
      denom = max_sq.sqrt();
    } else {
      denom = exp_avg_sq.sqrt();
    }
    denom.div_(bias_correction2_sqrt).add_(eps);
    param.addcdiv_(exp_avg, denom, -step_size);
  });
  TL_OP_END;
}

// rmspropStep(params, [step, square_avg, momentum_buffer, grad_avg], lr, alpha, eps,
//             weightDecay, momentum, centered, maximize)   (step: Python keeps an int; here a 0-d tensor)
TL_FN(rmspropStep) {
  TL_OP_BEGIN("rmsprop_step", 9);
  double lr = f64(c, 2, "lr"), alpha = f64(c, 3, "alpha"), eps = f64(c, 4, "eps"), wd = f64(c, 5, "weightDecay");
  double momentum = f64(c, 6, "momentum");
  bool centered = boolean(c, 7, "centered"), maximize = boolean(c, 8, "maximize");
  return for_each_param<4>(c, [&](at::Tensor& param, const at::Tensor& g, auto& st, auto make) {
    if (!st[0]) make(0, at::zeros({}, at::kFloat));
    if (!st[1]) make(1, at::zeros_like(param, at::MemoryFormat::Preserve));
    if (momentum > 0 && !st[2]) make(2, at::zeros_like(param, at::MemoryFormat::Preserve));
    if (centered && !st[3]) make(3, at::zeros_like(param, at::MemoryFormat::Preserve));
    st[0]->add_(1);
    at::Tensor grad = maximize ? g.neg() : g;
    if (wd != 0) grad = grad.add(param, wd);
    at::Tensor& square_avg = *st[1];
    square_avg.mul_(alpha).addcmul_(grad, grad, 1 - alpha);
    at::Tensor avg;
    if (centered) {
      at::Tensor& grad_avg = *st[3];
      compat::running_average_(grad_avg, grad, alpha);
      avg = square_avg.addcmul(grad_avg, grad_avg, -1).sqrt_();
    } else {
      avg = square_avg.sqrt();
    }
    avg = avg.add_(eps);
    if (momentum > 0) {
      at::Tensor& buf = *st[2];
      buf.mul_(momentum).addcdiv_(grad, avg);
      param.add_(buf, -lr);
    } else {
      param.addcdiv_(grad, avg, -lr);
    }
  });
  TL_OP_END;
}

// adagradStep(params, [step, sum], lr, lrDecay, weightDecay, eps, initialAccumulatorValue, maximize)
TL_FN(adagradStep) {
  TL_OP_BEGIN("adagrad_step", 8);
  double lr = f64(c, 2, "lr"), lr_decay = f64(c, 3, "lrDecay"), wd = f64(c, 4, "weightDecay"), eps = f64(c, 5, "eps");
  double init = f64(c, 6, "initialAccumulatorValue");
  bool maximize = boolean(c, 7, "maximize");
  return for_each_param<2>(c, [&](at::Tensor& param, const at::Tensor& g, auto& st, auto make) {
    if (!st[0]) make(0, at::zeros({}, at::kFloat));
    if (!st[1]) make(1, at::full_like(param, init, at::MemoryFormat::Preserve));
    at::Tensor& step_t = *st[0];
    step_t.add_(1);
    double step = step_t.item<double>();
    at::Tensor grad = maximize ? g.neg() : g;
    if (wd != 0) grad = grad.add(param, wd);
    double clr = lr / (1 + (step - 1) * lr_decay);
    at::Tensor& state_sum = *st[1];
    state_sum.addcmul_(grad, grad, 1);
    at::Tensor std = state_sum.sqrt().add_(eps);
    param.addcdiv_(grad, std, -clr);
  });
  TL_OP_END;
}

// clipGradNorm(params, maxNorm, normType, errorIfNonfinite) -> total norm (a handle),
// as torch.nn.utils.clip_grad_norm_ of 1.13.
TL_FN(clipGradNorm) {
  TL_OP_BEGIN("clip_grad_norm_", 4);
  std::vector<at::Tensor> params = tensor_list(c, 0, "parameters");
  double max_norm = f64(c, 1, "maxNorm"), norm_type = f64(c, 2, "normType");
  bool error_if_nonfinite = boolean(c, 3, "errorIfNonfinite");
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return wrap(c, at::zeros({}, at::kFloat));
  at::Device device = grads[0].device();
  at::Tensor total;
  if (std::isinf(norm_type)) {
    std::vector<at::Tensor> norms;
    for (const auto& g : grads) norms.push_back(g.detach().abs().max().to(device));
    total = norms.size() == 1 ? norms[0] : at::max(at::stack(norms));
  } else {
    std::vector<at::Tensor> norms;
    for (const auto& g : grads) norms.push_back(at::norm(g.detach(), norm_type).to(device));
    total = at::norm(at::stack(norms), norm_type);
  }
  if (error_if_nonfinite && (total.isnan().item<bool>() || total.isinf().item<bool>()))
    throw std::runtime_error("The total norm of order " + std::to_string(norm_type) +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `errorIfNonfinite: false`");
  at::Tensor clip_coef = at::reciprocal(total + 1e-6) * max_norm;  // Python's float / Tensor
  at::Tensor clamped = at::clamp(clip_coef, c10::nullopt, 1.0);
  for (auto& g : grads) g.detach().mul_(clamped.to(g.device()));
  return wrap(c, std::move(total));
  TL_OP_END;
}

// clipGradValue(params, clipValue)
TL_FN(clipGradValue) {
  TL_OP_BEGIN("clip_grad_value_", 2);
  std::vector<at::Tensor> params = tensor_list(c, 0, "parameters");
  double v = f64(c, 1, "clipValue");
  at::NoGradGuard no_grad;
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().clamp_(-v, v);
  return undefined_value(c);
  TL_OP_END;
}

// setData(self, other): `self.data = other` (same Tensor object, new storage/dtype/device),
// as nn.Module.to() and Parameter replacement need.
TL_FN(setData) {
  TL_OP_BEGIN("set_data", 2);
  mut_tensor(c, 0, "self").set_data(tensor(c, 1, "data"));
  return undefined_value(c);
  TL_OP_END;
}

}  // namespace

const OpEntry optim_ops[] = {
    {"sgdStep", sgdStep}, {"adamStep", adamStep}, {"rmspropStep", rmspropStep}, {"adagradStep", adagradStep},
    {"clipGradNorm", clipGradNorm}, {"clipGradValue", clipGradValue}, {"setData", setData}, {nullptr, nullptr},
};

}  // namespace tl
