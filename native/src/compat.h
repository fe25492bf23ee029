// The one place where libtorch 1.13 and libtorch 2.x differ for torchlight. Every other
// native file calls these helpers and never tests a version itself.
//
// Lines supported: 1.13 (Debian 12), 2.6 (Debian 13, pip, official archives) and the 2.x API
// that current PyTorch still shares with 2.6. Where a later 2.x changed a signature, the helper
// picks the form the headers offer (std::is_constructible), not a version number, so a line we
// could not build against here still has a chance to compile.
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/version.h>

#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#define TL_TORCH_AT_LEAST(MAJOR, MINOR) \
  (TORCH_VERSION_MAJOR > (MAJOR) || (TORCH_VERSION_MAJOR == (MAJOR) && TORCH_VERSION_MINOR >= (MINOR)))

#if defined(TL_WITH_CUDA) && TL_TORCH_AT_LEAST(2, 0)
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define TL_WITH_NCCL 1
#define TL_CUDA_RUNTIME 1
#endif

namespace tl {
namespace compat {

// "1.13.1", "2.6.0": the libtorch this addon was compiled against
inline std::string torch_version() { return TORCH_VERSION; }

// Whether this build can make NCCL process groups (a CUDA build of libtorch 2.x).
constexpr bool has_nccl() {
#ifdef TL_WITH_NCCL
  return true;
#else
  return false;
#endif
}

// ---- autocast: libtorch 2.4 keys its state by device type; 1.13 has a function per device ----

inline bool autocast_enabled(c10::DeviceType d) {
#if TL_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(d);
#else
  return d == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

inline at::ScalarType autocast_dtype(c10::DeviceType d) {
#if TL_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(d);
#else
  return d == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void set_autocast(c10::DeviceType d, bool enabled, at::ScalarType dtype) {
#if TL_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(d, enabled);
  at::autocast::set_autocast_dtype(d, dtype);
#else
  if (d == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

// ---- torch.cuda: synchronize, per-device seeds, the caching allocator's statistics --------
// (CUDA builds of libtorch 2.x; elsewhere each throws the error that names the fix)

inline void need_cuda(const char* what) {
#ifdef TL_CUDA_RUNTIME
  if (!at::hasCUDA()) throw std::runtime_error(std::string("torch.cuda.") + what + "(): no CUDA device is visible (check CUDA_VISIBLE_DEVICES and the driver)");
#else
  throw std::runtime_error(std::string("torch.cuda.") + what + "(): torchlight was built against libtorch " + TORCH_VERSION +
                           " without CUDA; rebuild it against a CUDA libtorch 2.x (LIBTORCH_USE_PYTORCH=1 npm run build:native with a CUDA pip torch)");
#endif
}

// Waits for every kernel queued on `device` (-1: the current one).
inline void cuda_synchronize(int device) {
  need_cuda("synchronize");
#ifdef TL_CUDA_RUNTIME
  if (device < 0) {
    c10::cuda::device_synchronize();
  } else {
    auto prev = c10::cuda::current_device();
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
    c10::cuda::device_synchronize();
    c10::cuda::set_device(prev);
  }
#else
  (void)device;
#endif
}

// Seeds the default generator of one CUDA device (-1: every device; -2: the current one), as
// torch.cuda.manual_seed(_all).
inline void cuda_manual_seed(uint64_t seed, int device) {
  need_cuda("manualSeed");
#ifdef TL_CUDA_RUNTIME
  if (device == -2) device = c10::cuda::current_device();
  int n = static_cast<int>(c10::cuda::device_count());
  for (int d = device < 0 ? 0 : device; d < (device < 0 ? n : device + 1); ++d) {
    auto gen = at::cuda::detail::getDefaultCUDAGenerator(static_cast<c10::DeviceIndex>(d));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
#else
  (void)seed, (void)device;
#endif
}

// The caching allocator's counters for `device`, by torch.cuda.memory_stats' names
// ("allocated_bytes.all.current", ...: the aggregate pool only).
inline std::vector<std::pair<std::string, int64_t>> cuda_memory_stats(int device) {
  need_cuda("memoryStats");
  std::vector<std::pair<std::string, int64_t>> out;
#ifdef TL_CUDA_RUNTIME
  auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  const size_t all = 0;  // StatType::AGGREGATE
  auto put = [&](const char* name, const auto& stats) {
    out.emplace_back(std::string(name) + ".all.current", stats[all].current);
    out.emplace_back(std::string(name) + ".all.peak", stats[all].peak);
  };
  put("allocated_bytes", s.allocated_bytes);
  put("reserved_bytes", s.reserved_bytes);
  put("active_bytes", s.active_bytes);
  put("allocation", s.allocation);
  put("segment", s.segment);
  out.emplace_back("num_alloc_retries", s.num_alloc_retries);
  out.emplace_back("num_ooms", s.num_ooms);
#else
  (void)device;
#endif
  return out;
}

// Frees the cached blocks no tensor uses (torch.cuda.empty_cache).
inline void cuda_empty_cache() {
  need_cuda("emptyCache");
#ifdef TL_CUDA_RUNTIME
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

// ---- oneDNN (mkldnn) self-check ----------------------------------------------------------

// The input gradient of one small float32 convolution (1 -> 8 channels, 3x3) whose input
// starts `offset` floats into a larger buffer, with oneDNN on or off. Seeded by position, not
// by a generator, so it leaves the RNG alone.
inline at::Tensor conv_input_grad(bool mkldnn, int64_t offset) {
  at::globalContext().setUserEnabledMkldnn(mkldnn);
  const int64_t n = 2 * 1 * 12 * 12;
  at::Tensor x, w, probe;
  {
    at::NoGradGuard no_grad;
    x = at::zeros({n + offset}, at::kFloat).narrow(0, offset, n).reshape({2, 1, 12, 12});
    x.copy_(at::sin(at::arange(n, at::kFloat)).reshape({2, 1, 12, 12}));
    w = at::cos(at::arange(8 * 1 * 3 * 3, at::kFloat)).reshape({8, 1, 3, 3}) * 0.3;
    probe = at::sin(at::arange(2 * 8 * 12 * 12, at::kFloat) * 0.7).reshape({2, 8, 12, 12});
  }
  x.requires_grad_(true);
  c10::AutoGradMode enable(true);
  at::Tensor y = at::conv2d(x, w, {}, 1, 1);
  return torch::autograd::grad({(y * probe).sum()}, {x})[0];
}

// Whether oneDNN stays on: TORCHLIGHT_MKLDNN=0 or 1 decides; otherwise a self-check compares
// oneDNN's convolution input gradients with ATen's own kernels over 48 inputs and turns oneDNN
// off for this process where any disagrees. Returns why it is off (empty: it is on, or was
// never built). Found on Debian 13's libtorch 2.6 (system oneDNN 3.7, AVX-512 CPU): with more
// than one thread, the input gradient of a float32 convolution with few channels is now and
// then wrong by up to 90 % (a race: never with one thread); Python torch on that library is as
// wrong. The check is statistical: CI runs that stack with TORCHLIGHT_MKLDNN=0. About 30 ms
// at load on 2 cores.
inline std::string mkldnn_self_check() {
  if (!at::hasMKLDNN()) return "";
  const char* env = std::getenv("TORCHLIGHT_MKLDNN");
  if (env && std::string(env) == "0") {
    at::globalContext().setUserEnabledMkldnn(false);
    return "TORCHLIGHT_MKLDNN=0";
  }
  if ((env && std::string(env) == "1") || !at::globalContext().userEnabledMkldnn()) return "";
  at::Tensor without = conv_input_grad(false, 0);
  double scale = without.abs().max().item<double>(), err = 0;
  for (int64_t off = 0; off < 48 * 16; off += 16) err = std::max(err, (conv_input_grad(true, off) - without).abs().max().item<double>());
  if (err <= 1e-4 * std::max(scale, 1.0)) {
    at::globalContext().setUserEnabledMkldnn(true);
    return "";
  }
  at::globalContext().setUserEnabledMkldnn(false);
  return "oneDNN's convolution input gradients disagree with ATen's in this libtorch build (max error " + std::to_string(err) + " of " +
         std::to_string(scale) + "), so oneDNN is turned off and ATen's kernels are used";
}

// ---- optimizers: the running averages written as Python's optimizers of the same line ----

// avg = beta * avg + (1 - beta) * x, in place. Python 1.13's Adam/RMSprop write
// mul_(beta).add_(x, 1 - beta); 2.x writes lerp_(x, 1 - beta), which rounds differently
// (one ulp here and there). Optimizer parity is with the Python torch of the same version.
inline at::Tensor& running_average_(at::Tensor& avg, const at::Tensor& x, double beta) {
#if TL_TORCH_AT_LEAST(2, 0)
  return avg.lerp_(x, 1 - beta);
#else
  return avg.mul_(beta).add_(x, 1 - beta);
#endif
}

// ---- c10d ------------------------------------------------------------------------------------

namespace detail {
template <typename O>
auto no_libuv(O& o, int) -> decltype(o.useLibUV = false, void()) {
  o.useLibUV = false;
}
template <typename O>
void no_libuv(O&, long) {}
}  // namespace detail

// A TCPStore (server or client). Since 2.4 its options default to a libuv server, which
// distribution builds (Debian's 2.6) lack ("use_libuv was requested but PyTorch was build
// without libuv support"); the classic server is in every build and speaks the same protocol.
inline c10::intrusive_ptr<c10d::TCPStore> tcp_store(const std::string& host, c10d::TCPStoreOptions opts) {
  detail::no_libuv(opts, 0);
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

#if TL_TORCH_AT_LEAST(2, 0)
// A ProcessGroup that dispatches the given device types to `backend`, as torch.distributed
// builds one in Python since 2.0.
inline c10::intrusive_ptr<c10d::ProcessGroup> dispatching_to(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                             c10d::ProcessGroup::BackendType type, const c10::intrusive_ptr<c10d::Backend>& backend,
                                                             std::initializer_list<c10::DeviceType> devices) {
  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
  pg->setDefaultBackend(type);
  for (auto d : devices) pg->setBackend(d, type, backend);
  return pg;
}
#endif

// A Gloo process group as a c10d::ProcessGroup, which is what DDP's Reducer and
// broadcast_coalesced take. In 1.13 ProcessGroupGloo *is* a ProcessGroup; since 2.0 it is a
// Backend that a ProcessGroup dispatches to (setBackend), as torch.distributed does in Python.
//
// `device` picks where Gloo's pairs listen, as Python's GLOO_SOCKET_IFNAME: "if:eth0[,eth1]" (one
// device per interface), "host:ADDR" (the interface of that address, e.g. loopback for a run on
// one machine), or "" (the address of this machine's hostname, Gloo's default).
inline c10::intrusive_ptr<c10d::ProcessGroup> gloo_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                         std::chrono::milliseconds timeout, const std::string& device = "") {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (device.rfind("if:", 0) == 0) {
    std::string names = device.substr(3);
    for (size_t at = 0; at <= names.size();) {
      size_t end = names.find(',', at);
      if (end == std::string::npos) end = names.size();
      if (end > at) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(names.substr(at, end - at)));
      at = end + 1;
    }
  } else if (device.rfind("host:", 0) == 0) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(device.substr(5)));
  }
  if (opts->devices.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
#if TL_TORCH_AT_LEAST(2, 0)
  auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
  // Gloo also reduces CUDA tensors (through host copies), as in Python's "gloo" backend
#ifdef TL_WITH_CUDA
  return dispatching_to(store, rank, size, c10d::ProcessGroup::BackendType::GLOO, backend, {c10::DeviceType::CPU, c10::DeviceType::CUDA});
#else
  return dispatching_to(store, rank, size, c10d::ProcessGroup::BackendType::GLOO, backend, {c10::DeviceType::CPU});
#endif
#else
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#endif
}

// Throws, with the fix, where this build cannot make NCCL groups (not a CUDA build of libtorch
// 2.x, or no GPU visible); called before any rendezvous.
inline void require_nccl() {
#ifdef TL_WITH_NCCL
  if (!at::hasCUDA()) throw std::runtime_error("backend \"nccl\" needs a CUDA device, and none is visible here (CUDA_VISIBLE_DEVICES, the driver); use backend \"gloo\"");
#else
  throw std::runtime_error("backend \"nccl\" needs a CUDA build of libtorch 2.x, and this addon was built against libtorch " +
                           torch_version() + " without CUDA; use backend \"gloo\", or rebuild against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1 with a CUDA pip torch)");
#endif
}

// An NCCL process group (CUDA builds of libtorch 2.x only; require_nccl's error elsewhere).
inline c10::intrusive_ptr<c10d::ProcessGroup> nccl_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                         std::chrono::milliseconds timeout) {
  require_nccl();
#ifdef TL_WITH_NCCL
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
  return dispatching_to(store, rank, size, c10d::ProcessGroup::BackendType::NCCL, backend, {c10::DeviceType::CUDA});
#else
  (void)store, (void)rank, (void)size, (void)timeout;
  return {};
#endif
}

// c10d::Reducer's constructor, by line: up to 2.6 (params, buckets, per-bucket limits, group,
// sparse, cap, find_unused, as_view, names, first_cap); then trailing flags
// (skip_all_reduce_unused_params, use_python_reducer), off as in Python's
// DistributedDataParallel; by 2.14 the per-bucket limits are gone and a list of caps for
// rebuilding follows the flags (empty: the Reducer's default, as Python passes it).
template <typename R, typename... Args>
std::unique_ptr<R> reducer_with(Args&&... args) {
  if constexpr (std::is_constructible_v<R, Args..., bool, bool>) {
    return std::make_unique<R>(std::forward<Args>(args)..., false, false);
  } else if constexpr (std::is_constructible_v<R, Args..., bool>) {
    return std::make_unique<R>(std::forward<Args>(args)..., false);
  } else {
    return std::make_unique<R>(std::forward<Args>(args)...);
  }
}

// (a template, so that only the line's own constructor call is compiled)
template <typename R = c10d::Reducer>
std::unique_ptr<R> reducer(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> buckets,
                           std::vector<size_t> limits, c10::intrusive_ptr<c10d::ProcessGroup> pg,
                           std::vector<bool> sparse, int64_t cap, bool find_unused, bool as_view,
                           int64_t first_cap) {
  using Names = std::unordered_map<size_t, std::string>;
  if constexpr (std::is_constructible_v<R, std::vector<at::Tensor>, std::vector<std::vector<size_t>>, c10::intrusive_ptr<c10d::ProcessGroup>,
                                        std::vector<bool>, int64_t, bool, bool, Names, int64_t, bool, bool, std::vector<int64_t>>) {
    (void)limits;
    return std::make_unique<R>(std::move(params), std::move(buckets), std::move(pg), std::move(sparse), cap, find_unused, as_view, Names{},
                               first_cap, false, false, std::vector<int64_t>{});
  } else {
    return reducer_with<R>(std::move(params), std::move(buckets), limits, std::move(pg), std::move(sparse), cap, find_unused, as_view, Names{}, first_cap);
  }
}

}  // namespace compat
}  // namespace tl
