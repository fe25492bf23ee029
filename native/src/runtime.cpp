// Entry points of the runtime: seeding, threads, autocast, deterministic algorithms, CUDA
// helpers, memory pressure, and the runtime report (`config()`: libtorch version, the BLAS and
// allocator really loaded, oneDNN, threads, CUDA); plus the process's one-time set-up
// (allocator tuning, default threads, the oneDNN self-check).
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>
#endif
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
#include "entries.h"
#include "errors.h"

namespace tl {
namespace {

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

// dieWithParent(expectedParentPid): the kernel sends this process SIGKILL when its parent (the
// TorchTrainer driver) dies, even while the JS thread is stuck in a collective or a spinning
// loop. Returns false if the parent is already gone (or not the expected one) or the platform
// has no such signal.
TL_FN(dieWithParent) {
  TL_OP_BEGIN("dieWithParent", 1);
#if defined(__linux__)
  int64_t expected = to_int(c, c.argv[0], 0, "expectedParentPid");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return ret_bool(c, false);
  return ret_bool(c, static_cast<int64_t>(getppid()) == expected);  // the parent died before the prctl: too late
#else
  return ret_bool(c, false);
#endif
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

}  // namespace

Napi::Value runtime_config(const Napi::CallbackInfo& info) {
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


void setup_process() {
  static bool done = [] {
    tune_allocator();
    at::set_num_threads(default_threads());
    g_mkldnn_note = compat::mkldnn_self_check();
    return true;
  }();
  (void)done;
}

const OpEntry runtime_ops[] = {
    {"manualSeed", manualSeed},
    {"cudaSynchronize", cudaSynchronize},
    {"cudaManualSeed", cudaManualSeed},
    {"cudaMemoryStats", cudaMemoryStats},
    {"cudaEmptyCache", cudaEmptyCache},
    {"setThreadNumThreads", setThreadNumThreads},
    {"setNumThreads", setNumThreads},
    {"getNumThreads", getNumThreads},
    {"autocastEnter", autocastEnter},
    {"autocastExit", autocastExit},
    {"isAutocastEnabled", isAutocastEnabled},
    {"setDeterministicAlgorithms", setDeterministicAlgorithms},
    {"deterministicAlgorithms", deterministicAlgorithms},
    {"setErrorFactory", setErrorFactory},
    {"flushMemoryPressure", flushMemoryPressure},
    {"dieWithParent", dieWithParent},
    {nullptr, nullptr},
};

}  // namespace tl
