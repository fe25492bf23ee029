// The N-API glue shared by the generated op bindings and the hand-written entry points:
// the tensor table (JS holds plain integer handles, not wrapped objects: a wrapped object
// per result costs ~1.3 us, a handle ~10 ns), argument conversion, and the exception
// boundary. No Node type leaks past this layer into libtorch code, and no C++ exception
// crosses into JS: TL_OP_END turns every one into a JS error.
#pragma once

#include <ATen/ATen.h>
#include <ATen/ScalarOps.h>
#include <node_api.h>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tl {

// A bad argument coming from JS: becomes a JS TypeError with code TORCH_ARGUMENT_ERROR.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A handle to a tensor that was disposed: code TORCH_TENSOR_DISPOSED.
struct DisposedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OpEntry {
  const char* name;
  napi_callback fn;
};

// One JS call in flight: what the argument converters need to read and to blame.
struct Call {
  napi_env env;
  const char* op;
  napi_value* argv;
  size_t argc;
};

// ---- tensor table ---------------------------------------------------------------------
// Slots live in fixed chunks so references stay valid while new slots are added.
// One table per thread: each Node worker thread has its own JS world and its own tensors.
struct Slot {
  at::Tensor tensor;
  int64_t reported = 0;  // bytes this slot reported to V8 as external memory
  uint32_t gen = 0;      // bumped at each insert: a GC finalizer of an older tensor leaves it alone
};

class TensorTable {
 public:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunk = 1u << kChunkBits;

  inline Slot* find(uint32_t h) {
    uint32_t chunk = h >> kChunkBits;
    if (h == 0 || chunk >= chunks_.size()) return nullptr;
    Slot* s = &chunks_[chunk][h & (kChunk - 1)];
    return s->tensor.defined() ? s : nullptr;
  }
  uint32_t insert(napi_env env, at::Tensor&& t);
  bool release(napi_env env, uint32_t h);
  // Frees slot h if it still holds generation `gen`, from inside a GC finalizer: no N-API call
  // (V8 hears of the freed bytes at the next insert's pressure report).
  void release_from_gc(uint32_t h, uint32_t gen);
  void set_unwatched(double* counter) { unwatched_ = counter; }
  uint32_t generation(uint32_t h) { Slot* s = find(h); return s ? s->gen : 0; }
  size_t live() const { return live_; }
  int64_t bytes() const { return bytes_; }
  void flush_pressure(napi_env env);

 private:
  void adjust(napi_env env, int64_t delta);
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_ = 1;  // handle 0 is never used: JS writes 0 into a disposed Tensor
  size_t live_ = 0;
  int64_t bytes_ = 0;
  int64_t pending_ = 0;  // external-memory change not yet told to V8
  double* unwatched_ = nullptr;  // JS-visible count of bytes inserted since the last gcWatch
};

// Generators made by `new torch.Generator()`, by id (id 0: the default generator).
struct GeneratorTable {
  std::vector<at::Generator> slots{at::Generator()};  // slot 0 unused
  std::vector<uint32_t> free;
};

// Per-environment state, as better-sqlite3's Addon: each Node environment (the main thread,
// each worker_thread) gets its own, created by Init and freed by the environment's teardown
// (napi_set_instance_data's finalizer), so a worker thread that ends releases its tensors.
struct Addon {
  TensorTable tensors;
  GeneratorTable generators;
};
void attach_addon(napi_env env);  // Init calls it once per environment
Addon& addon();                   // this thread's environment's state
inline TensorTable& table() { return addon().tensors; }

Addon* addon_or_null();          // the same, or null once the environment is torn down

// ---- errors ---------------------------------------------------------------------------
napi_value throw_current(Call& c);  // call from a catch block only
[[noreturn]] void arg_error(const Call& c, size_t i, const char* name, const std::string& expected);
std::string describe(napi_env env, napi_value v);

// An entry point: every N-API callback of the addon has this signature.
#define TL_FN(NAME) static napi_value NAME(napi_env env, napi_callback_info info)

#define TL_OP_BEGIN(NAME, N)                                        \
  napi_value tl_argv_[N];                                          \
  size_t tl_argc_ = N;                                             \
  napi_get_cb_info(env, info, &tl_argc_, tl_argv_, nullptr, nullptr); \
  tl::Call c{env, NAME, tl_argv_, tl_argc_ < N ? tl_argc_ : N};    \
  try {
#define TL_OP_END                  \
  }                                \
  catch (...) {                    \
    return tl::throw_current(c);   \
  }

// ---- argument conversion --------------------------------------------------------------
inline napi_valuetype type_of(const Call& c, size_t i) {
  if (i >= c.argc) return napi_undefined;
  napi_valuetype t;
  napi_typeof(c.env, c.argv[i], &t);
  return t;
}
inline bool absent(const Call& c, size_t i) {
  napi_valuetype t = type_of(c, i);
  return t == napi_undefined || t == napi_null;
}

inline const at::Tensor& tensor_at(const Call& c, napi_value v, size_t i, const char* name) {
  uint32_t h;
  if (napi_get_value_uint32(c.env, v, &h) != napi_ok) arg_error(c, i, name, "a Tensor");
  Slot* s = table().find(h);
  if (!s) {
    if (h == 0) throw DisposedError(std::string(c.op) + "(): argument '" + name + "' is a Tensor that was disposed (by dispose() or by the tidy() that created it). Keep it with keep() or clone() it before the scope ends.");
    arg_error(c, i, name, "a live Tensor");
  }
  return s->tensor;
}
inline const at::Tensor& tensor(const Call& c, size_t i, const char* name) {
  if (i >= c.argc) arg_error(c, i, name, "a Tensor");
  return tensor_at(c, c.argv[i], i, name);
}
inline at::Tensor& mut_tensor(const Call& c, size_t i, const char* name) {
  return const_cast<at::Tensor&>(tensor(c, i, name));  // slots are mutable; find() hands out const refs only for reads
}
inline c10::optional<at::Tensor> opt_tensor(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return tensor(c, i, name);
}

uint32_t array_length(const Call& c, size_t i, const char* name, const char* what);
napi_value element(const Call& c, size_t i, uint32_t k);

std::vector<at::Tensor> tensor_list(const Call& c, size_t i, const char* name);
c10::List<c10::optional<at::Tensor>> opt_tensor_list(const Call& c, size_t i, const char* name);

int64_t to_int(const Call& c, napi_value v, size_t i, const char* name);
double to_double(const Call& c, napi_value v, size_t i, const char* name);

inline int64_t i64(const Call& c, size_t i, const char* name) {
  if (i >= c.argc) arg_error(c, i, name, "an integer");
  return to_int(c, c.argv[i], i, name);
}
inline int64_t i64_or(const Call& c, size_t i, const char* name, int64_t d) { return absent(c, i) ? d : i64(c, i, name); }
inline c10::optional<int64_t> opt_i64(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return i64(c, i, name);
}
inline double f64(const Call& c, size_t i, const char* name) {
  if (i >= c.argc) arg_error(c, i, name, "a number");
  return to_double(c, c.argv[i], i, name);
}
inline double f64_or(const Call& c, size_t i, const char* name, double d) { return absent(c, i) ? d : f64(c, i, name); }
inline c10::optional<double> opt_f64(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return f64(c, i, name);
}
bool boolean(const Call& c, size_t i, const char* name);
inline bool boolean_or(const Call& c, size_t i, const char* name, bool d) { return absent(c, i) ? d : boolean(c, i, name); }
inline c10::optional<bool> opt_boolean(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return boolean(c, i, name);
}
template <size_t N>
void bool_array(const Call& c, size_t i, const char* name, std::array<bool, N>& out) {
  uint32_t n = array_length(c, i, name, "an array of booleans");
  if (n != N) arg_error(c, i, name, "an array of " + std::to_string(N) + " booleans");
  for (uint32_t k = 0; k < N; ++k) {
    bool b;
    if (napi_get_value_bool(c.env, element(c, i, k), &b) != napi_ok) arg_error(c, i, name, "an array of booleans");
    out[k] = b;
  }
}
template <size_t N>
void bool_array_or(const Call& c, size_t i, const char* name, std::array<bool, N>& out) {
  if (!absent(c, i)) bool_array<N>(c, i, name, out);
}

at::Scalar scalar_from(const Call& c, napi_value v, size_t i, const char* name);
inline at::Scalar scalar(const Call& c, size_t i, const char* name) {
  if (i >= c.argc) arg_error(c, i, name, "a number or boolean");
  return scalar_from(c, c.argv[i], i, name);
}
inline at::Scalar scalar_or(const Call& c, size_t i, const char* name, at::Scalar d) { return absent(c, i) ? d : scalar(c, i, name); }
inline c10::optional<at::Scalar> opt_scalar(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return scalar(c, i, name);
}

// A single number is accepted for a list (as PyTorch expands `kernel_size=3` to [3, 3]);
// `expand` is the schema's fixed length (int[2]) or 0 for "as many as given".
void int_list(const Call& c, size_t i, const char* name, std::vector<int64_t>& out, size_t expand);
inline void int_list_or(const Call& c, size_t i, const char* name, std::vector<int64_t>& out, size_t expand) {
  if (!absent(c, i)) int_list(c, i, name, out, expand);
}
inline at::OptionalIntArrayRef opt_int_list(const Call& c, size_t i, const char* name, std::vector<int64_t>& buf, size_t expand) {
  if (absent(c, i)) return c10::nullopt;
  int_list(c, i, name, buf, expand);
  return at::IntArrayRef(buf);
}
c10::optional<at::ArrayRef<double>> opt_float_list(const Call& c, size_t i, const char* name, std::vector<double>& buf);

at::ScalarType dtype(const Call& c, size_t i, const char* name);
inline at::ScalarType dtype_or(const Call& c, size_t i, const char* name, at::ScalarType d) { return absent(c, i) ? d : dtype(c, i, name); }
inline c10::optional<at::ScalarType> opt_dtype(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return dtype(c, i, name);
}
at::Layout layout(const Call& c, size_t i, const char* name);
inline c10::optional<at::Layout> opt_layout(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return layout(c, i, name);
}
at::Device device(const Call& c, size_t i, const char* name);
inline c10::optional<at::Device> opt_device(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return device(c, i, name);
}
at::MemoryFormat memory_format(const Call& c, size_t i, const char* name);
inline at::MemoryFormat memory_format_or(const Call& c, size_t i, const char* name, at::MemoryFormat d) {
  return absent(c, i) ? d : memory_format(c, i, name);
}
inline c10::optional<at::MemoryFormat> opt_memory_format(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return memory_format(c, i, name);
}
std::string string(const Call& c, size_t i, const char* name);
std::vector<std::string> string_list(const Call& c, size_t i, const char* name);
inline std::string string_or(const Call& c, size_t i, const char* name, std::string d) { return absent(c, i) ? d : string(c, i, name); }
inline c10::optional<c10::string_view> opt_string(const Call& c, size_t i, const char* name, std::string& buf) {
  if (absent(c, i)) return c10::nullopt;
  buf = string(c, i, name);
  return c10::string_view(buf);
}
// Generators live in a per-thread table (generator.cpp); JS holds their ids, 0 = none.
c10::optional<at::Generator> opt_generator(const Call& c, size_t i, const char* name);

// ---- results --------------------------------------------------------------------------
napi_value wrap(const Call& c, at::Tensor&& t);
inline napi_value wrap(const Call& c, const at::Tensor& t) { return wrap(c, at::Tensor(t)); }
napi_value wrap_list(const Call& c, std::vector<at::Tensor>&& ts);
napi_value undefined_value(const Call& c);
napi_value ret_bool(const Call& c, bool v);
napi_value ret_int(const Call& c, int64_t v);
napi_value ret_double(const Call& c, double v);
napi_value ret_scalar(const Call& c, const at::Scalar& v);
napi_value ret_dtype(const Call& c, at::ScalarType v);

template <typename... Ts>
napi_value wrap_tuple(const Call& c, std::tuple<Ts...>&& t) {
  napi_value arr;
  napi_create_array_with_length(c.env, sizeof...(Ts), &arr);
  uint32_t k = 0;
  std::apply([&](auto&... x) { ((napi_set_element(c.env, arr, k++, wrap(c, at::Tensor(x)))), ...); }, t);
  return arr;
}

}  // namespace tl
