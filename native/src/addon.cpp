// Module entry and the hand-written entry points: tensor creation from JS memory, metadata,
// data access, autograd, grad mode, seeding, threads and the runtime report. The bulk of
// the ops are generated (generated/ops_*.cpp); everything here follows the same rules:
// handles in, handles out, every C++ exception turned into a JS error by TL_OP_END.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#if __has_include(<omp.h>)
#include <omp.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#include <sched.h>
#endif

#include "compat.h"
#include "convert.h"
#include "errors.h"
#include "generated/ops.h"
#include "entries.h"


namespace tl {
namespace {

#define TL_FN(NAME) static napi_value NAME(napi_env env, napi_callback_info info)

napi_value js_string(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  return v;
}

// ---- creation from JS memory ----------------------------------------------------------

TL_FN(fromTypedArray) {
  TL_OP_BEGIN("tensor", 4);
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  bool is_typed = false;
  napi_is_typedarray(env, c.argv[0], &is_typed);
  if (!is_typed) arg_error(c, 0, "data", "a TypedArray");
  napi_get_typedarray_info(env, c.argv[0], &type, &length, &data, &ab, &offset);
  std::vector<int64_t> shape;
  int_list(c, 1, "shape", shape, 0);
  at::ScalarType st = dtype(c, 2, "dtype");
  bool requires_grad = boolean_or(c, 3, "requiresGrad", false);
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) arg_error(c, 1, "shape", "non-negative sizes");
    numel *= d;
  }
  if (numel != static_cast<int64_t>(length))
    throw ArgError("tensor(): the data has " + std::to_string(length) + " elements but the shape " +
                   c10::str(at::IntArrayRef(shape)) + " needs " + std::to_string(numel));
  static const size_t elem_size[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 1};  // per napi_typedarray_type
  size_t es = static_cast<size_t>(type) < sizeof elem_size / sizeof elem_size[0] ? elem_size[type] : 0;
  if (es != at::elementSize(st))
    throw ArgError(std::string("tensor(): a typed array of ") + std::to_string(es) + "-byte elements cannot hold dtype " +
                   c10::toString(st) + " (" + std::to_string(at::elementSize(st)) + " bytes per element)");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  if (length) std::memcpy(t.data_ptr(), data, length * es);
  if (requires_grad) t.requires_grad_(true);
  return wrap(c, std::move(t));
  TL_OP_END;
}

// ---- lifetime -------------------------------------------------------------------------

TL_FN(dispose) {
  TL_OP_BEGIN("dispose", 1);
  uint32_t h = 0;
  napi_get_value_uint32(env, c.argv[0], &h);
  return ret_bool(c, table().release(env, h));
  TL_OP_END;
}

TL_FN(disposeMany) {
  TL_OP_BEGIN("dispose", 1);
  uint32_t n = array_length(c, 0, "handles", "an array of handles");
  uint32_t h;
  for (uint32_t k = 0; k < n; ++k)
    if (napi_get_value_uint32(env, element(c, 0, k), &h) == napi_ok) table().release(env, h);
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(liveTensors) {
  TL_OP_BEGIN("memory", 1);
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "numTensors", ret_int(c, static_cast<int64_t>(table().live())));
  napi_set_named_property(env, o, "numBytes", ret_int(c, table().bytes()));
  return o;
  TL_OP_END;
}

// ---- metadata -------------------------------------------------------------------------

napi_value int_array(const Call& c, at::IntArrayRef xs) {
  napi_value arr;
  napi_create_array_with_length(c.env, xs.size(), &arr);
  for (uint32_t k = 0; k < xs.size(); ++k) napi_set_element(c.env, arr, k, ret_int(c, xs[k]));
  return arr;
}

TL_FN(shape) {
  TL_OP_BEGIN("shape", 1);
  return int_array(c, tensor(c, 0, "self").sizes());
  TL_OP_END;
}

TL_FN(strides) {
  TL_OP_BEGIN("stride", 1);
  return int_array(c, tensor(c, 0, "self").strides());
  TL_OP_END;
}

TL_FN(dim) {
  TL_OP_BEGIN("dim", 1);
  return ret_int(c, tensor(c, 0, "self").dim());
  TL_OP_END;
}

TL_FN(size) {
  TL_OP_BEGIN("size", 2);
  return ret_int(c, tensor(c, 0, "self").size(i64(c, 1, "dim")));
  TL_OP_END;
}

TL_FN(numel) {
  TL_OP_BEGIN("numel", 1);
  return ret_int(c, tensor(c, 0, "self").numel());
  TL_OP_END;
}

TL_FN(scalarType) {
  TL_OP_BEGIN("dtype", 1);
  return ret_dtype(c, tensor(c, 0, "self").scalar_type());
  TL_OP_END;
}

TL_FN(deviceOf) {
  TL_OP_BEGIN("device", 1);
  return js_string(env, tensor(c, 0, "self").device().str());
  TL_OP_END;
}

TL_FN(isContiguous) {
  TL_OP_BEGIN("is_contiguous", 1);
  return ret_bool(c, tensor(c, 0, "self").is_contiguous());
  TL_OP_END;
}

TL_FN(contiguous) {
  TL_OP_BEGIN("contiguous", 2);
  const at::Tensor& t = tensor(c, 0, "self");
  return wrap(c, t.contiguous(memory_format_or(c, 1, "memoryFormat", at::MemoryFormat::Contiguous)));
  TL_OP_END;
}

TL_FN(storageOffset) {
  TL_OP_BEGIN("storage_offset", 1);
  return ret_int(c, tensor(c, 0, "self").storage_offset());
  TL_OP_END;
}

TL_FN(sharesStorage) {
  TL_OP_BEGIN("shares_storage", 2);
  const at::Tensor& a = tensor(c, 0, "self");
  const at::Tensor& b = tensor(c, 1, "other");
  return ret_bool(c, a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
  TL_OP_END;
}

// ---- data access ----------------------------------------------------------------------

TL_FN(data) {
  TL_OP_BEGIN("data", 1);
  at::Tensor t = tensor(c, 0, "self").detach();
  if (!t.device().is_cpu()) t = t.cpu();
  t = t.contiguous();
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  void* out = nullptr;
  napi_value ab;
  napi_create_arraybuffer(env, nbytes, &out, &ab);
  if (nbytes) std::memcpy(out, t.data_ptr(), nbytes);
  return ab;
  TL_OP_END;
}

TL_FN(item) {
  TL_OP_BEGIN("item", 1);
  const at::Tensor& t = tensor(c, 0, "self");
  if (t.numel() != 1)
    throw ArgError("item(): a Tensor with " + std::to_string(t.numel()) +
                   " elements cannot be converted to a number; only one-element tensors can (use toArray() or data())");
  return ret_scalar(c, t.item());
  TL_OP_END;
}

// ---- autograd -------------------------------------------------------------------------

TL_FN(requiresGrad) {
  TL_OP_BEGIN("requires_grad", 1);
  return ret_bool(c, tensor(c, 0, "self").requires_grad());
  TL_OP_END;
}

TL_FN(setRequiresGrad) {
  TL_OP_BEGIN("requires_grad_", 2);
  tensor(c, 0, "self").requires_grad_(boolean_or(c, 1, "requiresGrad", true));
  return c.argv[0];
  TL_OP_END;
}

TL_FN(isLeaf) {
  TL_OP_BEGIN("is_leaf", 1);
  return ret_bool(c, tensor(c, 0, "self").is_leaf());
  TL_OP_END;
}

TL_FN(grad) {
  TL_OP_BEGIN("grad", 1);
  return wrap(c, tensor(c, 0, "self").grad());
  TL_OP_END;
}

TL_FN(setGrad) {
  TL_OP_BEGIN("grad", 2);
  const at::Tensor& t = tensor(c, 0, "self");
  auto g = opt_tensor(c, 1, "grad");
  if (g && (g->sizes() != t.sizes() || g->scalar_type() != t.scalar_type()))
    throw ArgError("grad: assigned grad has shape " + c10::str(g->sizes()) + " and dtype " + c10::toString(g->scalar_type()) +
                   " but the tensor has shape " + c10::str(t.sizes()) + " and dtype " + c10::toString(t.scalar_type()));
  t.mutable_grad() = g ? *g : at::Tensor();
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(gradFn) {
  TL_OP_BEGIN("grad_fn", 1);
  const auto& fn = tensor(c, 0, "self").grad_fn();
  if (!fn) {
    napi_value v;
    napi_get_null(env, &v);
    return v;
  }
  return js_string(env, fn->name());
  TL_OP_END;
}

TL_FN(retainGrad) {
  TL_OP_BEGIN("retain_grad", 1);
  tensor(c, 0, "self").retain_grad();
  return undefined_value(c);
  TL_OP_END;
}

// backward(self, gradient?, retainGraph?, createGraph?, inputs?)
TL_FN(backward) {
  TL_OP_BEGIN("backward", 5);
  const at::Tensor& t = tensor(c, 0, "self");
  auto g = opt_tensor(c, 1, "gradient");
  auto retain = opt_boolean(c, 2, "retainGraph");
  bool create = boolean_or(c, 3, "createGraph", false);
  std::vector<at::Tensor> inputs;
  if (!absent(c, 4)) inputs = tensor_list(c, 4, "inputs");
  t.backward(g ? *g : at::Tensor(), retain, create,
             inputs.empty() ? c10::optional<at::TensorList>() : c10::optional<at::TensorList>(inputs));
  return undefined_value(c);
  TL_OP_END;
}

// grad(outputs, inputs, gradOutputs?, retainGraph?, createGraph?, allowUnused?)
TL_FN(autogradGrad) {
  TL_OP_BEGIN("autograd.grad", 6);
  auto outputs = tensor_list(c, 0, "outputs");
  auto inputs = tensor_list(c, 1, "inputs");
  std::vector<at::Tensor> grad_outputs;
  if (!absent(c, 2)) {
    auto opt = opt_tensor_list(c, 2, "gradOutputs");
    for (size_t k = 0; k < opt.size(); ++k) {
      c10::optional<at::Tensor> o = opt.get(k);
      grad_outputs.push_back(o ? *o : at::Tensor());
    }
  }
  auto retain = opt_boolean(c, 3, "retainGraph");
  bool create = boolean_or(c, 4, "createGraph", false);
  bool allow_unused = boolean_or(c, 5, "allowUnused", false);
  return wrap_list(c, torch::autograd::grad(outputs, inputs, grad_outputs, retain, create, allow_unused));
  TL_OP_END;
}

TL_FN(setGradEnabled) {
  TL_OP_BEGIN("set_grad_enabled", 1);
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(boolean(c, 0, "enabled"));
  return ret_bool(c, prev);
  TL_OP_END;
}

TL_FN(isGradEnabled) {
  TL_OP_BEGIN("is_grad_enabled", 1);
  return ret_bool(c, c10::GradMode::is_enabled());
  TL_OP_END;
}

// ---- runtime --------------------------------------------------------------------------

TL_FN(manualSeed) {
  TL_OP_BEGIN("manual_seed", 1);
  int64_t seed = i64(c, 0, "seed");
  at::manual_seed(static_cast<uint64_t>(seed));
  return undefined_value(c);
  TL_OP_END;
}

// cudaSynchronize(device?), cudaManualSeed(seed, device?), cudaMemoryStats(device) -> {name: n},
// cudaEmptyCache(): torch.cuda's helpers (compat.h; a clear error without a CUDA build or GPU)
TL_FN(cudaSynchronize) {
  TL_OP_BEGIN("cuda.synchronize", 1);
  compat::cuda_synchronize(static_cast<int>(i64_or(c, 0, "device", -1)));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(cudaManualSeed) {
  TL_OP_BEGIN("cuda.manual_seed", 2);
  compat::cuda_manual_seed(static_cast<uint64_t>(i64(c, 0, "seed")), static_cast<int>(i64_or(c, 1, "device", -2)));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(cudaMemoryStats) {
  TL_OP_BEGIN("cuda.memory_stats", 1);
  napi_value o;
  napi_create_object(env, &o);
  for (const auto& [name, v] : compat::cuda_memory_stats(static_cast<int>(i64(c, 0, "device"))))
    napi_set_named_property(env, o, name.c_str(), ret_int(c, v));
  return o;
  TL_OP_END;
}

TL_FN(cudaEmptyCache) {
  TL_OP_BEGIN("cuda.empty_cache", 0);
  compat::cuda_empty_cache();
  return undefined_value(c);
  TL_OP_END;
}

// setThreadNumThreads(n): intra-op threads for ops started from *this* thread only (OpenMP's
// per-thread setting), so DataLoader worker threads do not each start a team of threads
// that competes with the training step's. at::set_num_threads would change every thread.
TL_FN(setThreadNumThreads) {
  TL_OP_BEGIN("set_num_threads", 1);
  int64_t n = i64(c, 0, "n");
  if (n < 1) arg_error(c, 0, "n", "a positive integer");
#if defined(_OPENMP) || __has_include(<omp.h>)
  omp_set_num_threads(static_cast<int>(n));
#endif
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(setNumThreads) {
  TL_OP_BEGIN("set_num_threads", 1);
  int64_t n = i64(c, 0, "n");
  if (n < 1) arg_error(c, 0, "n", "a positive integer");
  at::set_num_threads(static_cast<int>(n));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(getNumThreads) {
  TL_OP_BEGIN("get_num_threads", 1);
  return ret_int(c, at::get_num_threads());
  TL_OP_END;
}

// ---- autocast (torch.autocast) ------------------------------------------------------------
// The state is thread-local in libtorch, as in Python: it applies to ops started from the
// calling JS thread (compat.h reads and sets it on either libtorch line).
c10::DeviceType autocast_device(const Call& c, size_t i) {
  at::Device d = device(c, i, "deviceType");
  if (d.type() != c10::DeviceType::CPU && d.type() != c10::DeviceType::CUDA)
    arg_error(c, i, "deviceType", "'cpu' or 'cuda'");
  return d.type();
}
using compat::autocast_dtype;
using compat::autocast_enabled;
using compat::set_autocast;

// The arguments of autocastEnter/autocastExit: (deviceType, enabled, dtype, cacheEnabled).
struct AutocastState {
  c10::DeviceType device;
  bool enabled;
  at::ScalarType dtype;
  bool cache;
};
AutocastState autocast_state(const Call& c) {
  return {autocast_device(c, 0), boolean(c, 1, "enabled"), dtype(c, 2, "dtype"), boolean(c, 3, "cacheEnabled")};
}
void apply_autocast(const AutocastState& s) {
  set_autocast(s.device, s.enabled, s.dtype);
  at::autocast::set_autocast_cache_enabled(s.cache);
}

// autocastEnter(state) -> the previous [enabled, dtype, cacheEnabled], as torch.autocast.__enter__;
// autocastExit(deviceType, ...previous) as __exit__.
TL_FN(autocastEnter) {
  TL_OP_BEGIN("autocast", 4);
  AutocastState next = autocast_state(c);
  AutocastState prev{next.device, autocast_enabled(next.device), autocast_dtype(next.device), at::autocast::is_autocast_cache_enabled()};
  at::autocast::increment_nesting();
  apply_autocast(next);
  napi_value arr;
  napi_create_array_with_length(env, 3, &arr);
  napi_set_element(env, arr, 0, ret_bool(c, prev.enabled));
  napi_set_element(env, arr, 1, ret_dtype(c, prev.dtype));
  napi_set_element(env, arr, 2, ret_bool(c, prev.cache));
  return arr;
  TL_OP_END;
}

TL_FN(autocastExit) {
  TL_OP_BEGIN("autocast", 4);
  AutocastState prev = autocast_state(c);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  apply_autocast(prev);
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(isAutocastEnabled) {
  TL_OP_BEGIN("is_autocast_enabled", 1);
  return ret_bool(c, autocast_enabled(autocast_device(c, 0)));
  TL_OP_END;
}

// useDeterministicAlgorithms(enabled, warnOnly) / areDeterministicAlgorithmsEnabled() -> [enabled, warnOnly]
TL_FN(setDeterministicAlgorithms) {
  TL_OP_BEGIN("use_deterministic_algorithms", 2);
  at::globalContext().setDeterministicAlgorithms(boolean(c, 0, "mode"), boolean_or(c, 1, "warnOnly", false));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(deterministicAlgorithms) {
  TL_OP_BEGIN("are_deterministic_algorithms_enabled", 1);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, ret_bool(c, at::globalContext().deterministicAlgorithms()));
  napi_set_element(env, arr, 1, ret_bool(c, at::globalContext().deterministicAlgorithmsWarnOnly()));
  return arr;
  TL_OP_END;
}

TL_FN(setErrorFactory) {
  TL_OP_BEGIN("setErrorFactory", 1);
  set_error_factory(env, c.argv[0]);
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(flushMemoryPressure) {
  TL_OP_BEGIN("flushMemoryPressure", 1);
  table().flush_pressure(env);
  return undefined_value(c);
  TL_OP_END;
}

// What the process really loaded, read from its memory map: the BLAS behind libtorch and
// the allocator decide speed more than anything else here (see README, "Speed set-up").
std::string loaded_library(std::initializer_list<const char*> needles) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    for (const char* n : needles)
      if (path.find(n) != std::string::npos) return path;
  }
  return "";
}

std::string g_malloc_tuning = "none";
std::string g_mkldnn_note;  // why oneDNN was turned off at load, if it was

void tune_allocator() {
  if (!loaded_library({"libjemalloc", "libtcmalloc", "libmimalloc"}).empty()) return;
#if defined(__GLIBC__)
  const char* off = std::getenv("TORCHLIGHT_MALLOPT");
  if (off && std::string(off) == "0") return;
  // Without this, every large activation buffer is an mmap/munmap pair: a page-fault storm
  // that halved ResNet-18 training speed here. Keep big blocks in the heap and never trim.
  int mmap_threshold = 1 << 30;
  if (!mallopt(M_MMAP_THRESHOLD, mmap_threshold)) {
    mmap_threshold = 32 << 20;  // glibc's ceiling on some versions
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
  }
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  g_malloc_tuning = "mallopt(M_MMAP_THRESHOLD=" + std::to_string(mmap_threshold) + ", M_TRIM_THRESHOLD=1073741824)";
#endif
}

int default_threads() {
  for (const char* var : {"TORCHLIGHT_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 0) return std::atoi(v);
  }
#if defined(__GLIBC__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("torchVersion", compat::torch_version());
  std::string blas = loaded_library({"libopenblas", "libmkl_rt", "libmkl_core", "libblis", "libblas.so"});
  // pip wheels link MKL statically into libtorch_cpu: no separate BLAS library is mapped
  std::string kind = blas.empty() ? "built into libtorch"
                     : blas.find("openblas") != std::string::npos ? "openblas"
                     : blas.find("mkl") != std::string::npos ? "mkl"
                     : blas.find("blis") != std::string::npos ? "blis"
                                                               : "reference";
  if (kind == "reference" && blas.find("openblas") != std::string::npos) kind = "openblas";
  o.Set("blas", kind);
  o.Set("blasLibrary", blas);
  std::string alloc = loaded_library({"libjemalloc", "libtcmalloc", "libmimalloc"});
  o.Set("allocator", alloc.empty() ? "glibc malloc" : alloc.find("jemalloc") != std::string::npos ? "jemalloc"
                                                   : alloc.find("tcmalloc") != std::string::npos ? "tcmalloc"
                                                                                                 : "mimalloc");
  o.Set("allocatorTuning", g_malloc_tuning);
  o.Set("mkldnn", !at::hasMKLDNN() ? "not built" : at::globalContext().userEnabledMkldnn() ? "enabled" : g_mkldnn_note.empty() ? "disabled" : "disabled: " + g_mkldnn_note);
  o.Set("numThreads", at::get_num_threads());
  o.Set("numInteropThreads", at::get_num_interop_threads());
  o.Set("cuda", at::hasCUDA());
  o.Set("cudaDeviceCount", at::hasCUDA() ? static_cast<int>(at::detail::getCUDAHooks().getNumGPUs()) : 0);
#ifdef TL_WITH_CUDA
  o.Set("builtWithCuda", true);
#else
  o.Set("builtWithCuda", false);
#endif
  o.Set("nccl", compat::has_nccl());
  o.Set("parallelInfo", at::get_parallel_info());
  return o;
}

struct Entry {
  const char* name;
  napi_callback fn;
};

const Entry kCore[] = {
    {"fromTypedArray", fromTypedArray}, {"dispose", dispose}, {"disposeMany", disposeMany},
    {"memory", liveTensors}, {"shape", shape}, {"strides", strides}, {"dim", dim}, {"size", size},
    {"numel", numel}, {"dtype", scalarType}, {"device", deviceOf}, {"isContiguous", isContiguous},
    {"contiguous", contiguous}, {"storageOffset", storageOffset}, {"sharesStorage", sharesStorage},
    {"data", data}, {"item", item}, {"requiresGrad", requiresGrad}, {"setRequiresGrad", setRequiresGrad},
    {"isLeaf", isLeaf}, {"grad", grad}, {"setGrad", setGrad}, {"gradFn", gradFn}, {"retainGrad", retainGrad},
    {"backward", backward}, {"autogradGrad", autogradGrad}, {"setGradEnabled", setGradEnabled},
    {"isGradEnabled", isGradEnabled}, {"manualSeed", manualSeed}, {"setNumThreads", setNumThreads},
    {"getNumThreads", getNumThreads}, {"setThreadNumThreads", setThreadNumThreads}, {"setErrorFactory", setErrorFactory},
    {"flushMemoryPressure", flushMemoryPressure}, {"autocastEnter", autocastEnter}, {"autocastExit", autocastExit},
    {"isAutocastEnabled", isAutocastEnabled}, {"setDeterministicAlgorithms", setDeterministicAlgorithms},
    {"deterministicAlgorithms", deterministicAlgorithms}, {"cudaSynchronize", cudaSynchronize}, {"cudaManualSeed", cudaManualSeed},
    {"cudaMemoryStats", cudaMemoryStats}, {"cudaEmptyCache", cudaEmptyCache},
};

void define(napi_env env, napi_value target, const char* name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
  napi_set_named_property(env, target, name, f);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static bool process_setup = [] {
    tune_allocator();
    at::set_num_threads(default_threads());
    g_mkldnn_note = compat::mkldnn_self_check();
    return true;
  }();
  (void)process_setup;
  at::init_num_threads();  // this thread may be a worker_thread: give it the thread settings
  for (const Entry& e : kCore) define(env, exports, e.name, e.fn);
  for (const OpEntry* t : {optim_ops, serialize_ops, generator_ops, share_ops, distributed_ops})
    for (const OpEntry* e = t; e->name; ++e) define(env, exports, e->name, e->fn);
  Napi::Object ops = Napi::Object::New(env);
  size_t count = 0;
  for (const OpEntry* t : op_tables)
    for (const OpEntry* e = t; e->name; ++e, ++count) define(env, ops, e->name, e->fn);
  exports.Set("ops", ops);
  exports.Set("opCount", static_cast<double>(count));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  return exports;
}

}  // namespace
}  // namespace tl

static Napi::Object InitTorchlight(Napi::Env env, Napi::Object exports) { return tl::Init(env, exports); }
NODE_API_MODULE(torchlight, InitTorchlight)
