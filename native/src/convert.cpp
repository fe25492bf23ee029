// Argument conversion, the tensor table and the exception boundary (see convert.h).
#include "convert.h"

#include <cmath>
#include <cstdio>

#include "errors.h"

namespace tl {

// ---- tensor table ---------------------------------------------------------------------

namespace {
thread_local Addon* t_addon = nullptr;  // the environment running on this thread
}

void attach_addon(napi_env env) {
  auto* a = new Addon();
  napi_set_instance_data(
      env, a,
      [](napi_env, void* data, void*) {
        auto* dead = static_cast<Addon*>(data);
        if (t_addon == dead) t_addon = nullptr;
        delete dead;  // the environment's tensors and generators go with it
      },
      nullptr);
  t_addon = a;
}

Addon* addon_or_null() { return t_addon; }

Addon& addon() {
  if (!t_addon) throw std::runtime_error("torchlight: this thread's environment was torn down (or never loaded the addon)");
  return *t_addon;
}

// Only the bytes a tensor owns are reported: a view (reshape, slice, detach, ...) shares its
// base's storage, and reporting that storage again made V8 run a full GC every step.
static int64_t owned_bytes(const at::Tensor& t) {
  if (!t.has_storage() || t.is_view()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

// V8 is told about external memory in steps of at least this many bytes: one
// napi_adjust_external_memory per tensor would cost more than the op on small tensors.
static constexpr int64_t kPressureStep = 4 << 20;

void TensorTable::adjust(napi_env env, int64_t delta) {
  bytes_ += delta;
  pending_ += delta;
  if (pending_ >= kPressureStep || pending_ <= -kPressureStep) flush_pressure(env);
}

void TensorTable::flush_pressure(napi_env env) {
  int64_t result;
  if (pending_ != 0 && napi_adjust_external_memory(env, pending_, &result) == napi_ok) pending_ = 0;
}

uint32_t TensorTable::insert(napi_env env, at::Tensor&& t) {
  uint32_t h;
  if (!free_.empty()) {
    h = free_.back();
    free_.pop_back();
  } else {
    h = next_++;
    if ((h >> kChunkBits) >= chunks_.size()) chunks_.emplace_back(new Slot[kChunk]);
  }
  Slot& s = chunks_[h >> kChunkBits][h & (kChunk - 1)];
  s.tensor = std::move(t);
  s.reported = owned_bytes(s.tensor);
  ++s.gen;
  ++live_;
  if (s.reported) {
    adjust(env, s.reported);
    if (unwatched_) *unwatched_ += static_cast<double>(s.reported);
  }
  return h;
}

bool TensorTable::release(napi_env env, uint32_t h) {
  Slot* s = find(h);
  if (!s) return false;
  int64_t r = s->reported;
  s->tensor = at::Tensor();
  s->reported = 0;
  --live_;
  free_.push_back(h);
  if (r) adjust(env, -r);
  return true;
}

void TensorTable::release_from_gc(uint32_t h, uint32_t gen) {
  Slot* s = find(h);
  if (!s || s->gen != gen) return;  // disposed already, its slot maybe reused since
  int64_t r = s->reported;
  s->tensor = at::Tensor();
  s->reported = 0;
  --live_;
  free_.push_back(h);
  bytes_ -= r;
  pending_ -= r;
}

// ---- argument conversion --------------------------------------------------------------

std::string describe(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "an unknown value";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: {
      bool b = false;
      napi_get_value_bool(env, v, &b);
      return std::string(b ? "true" : "false") + " of type boolean";
    }
    case napi_number: {
      double d = 0;
      napi_get_value_double(env, v, &d);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return std::string(buf) + " of type number";
    }
    case napi_string: {
      char buf[48];
      size_t n = 0;
      napi_get_value_string_utf8(env, v, buf, sizeof buf, &n);
      return "'" + std::string(buf, n) + (n >= sizeof buf - 1 ? "...'" : "'") + " of type string";
    }
    case napi_bigint: return "a bigint";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_object: {
      bool arr = false;
      napi_is_array(env, v, &arr);
      return arr ? "an array" : "an object";
    }
    default: return "a value of another type";
  }
}

void arg_error(const Call& c, size_t i, const char* name, const std::string& expected) {
  std::string got = i < c.argc ? describe(c.env, c.argv[i]) : "nothing";
  throw ArgError(std::string(c.op) + "(): expected " + expected + " for argument '" + name + "' (position " +
                 std::to_string(i + 1) + ") but received " + got);
}

uint32_t array_length(const Call& c, size_t i, const char* name, const char* what) {
  bool is_array = false;
  if (i >= c.argc || napi_is_array(c.env, c.argv[i], &is_array) != napi_ok || !is_array) arg_error(c, i, name, what);
  uint32_t n = 0;
  napi_get_array_length(c.env, c.argv[i], &n);
  return n;
}

napi_value element(const Call& c, size_t i, uint32_t k) {
  napi_value v;
  napi_get_element(c.env, c.argv[i], k, &v);
  return v;
}

std::vector<at::Tensor> tensor_list(const Call& c, size_t i, const char* name) {
  uint32_t n = array_length(c, i, name, "an array of Tensors");
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) out.push_back(tensor_at(c, element(c, i, k), i, name));
  return out;
}

c10::List<c10::optional<at::Tensor>> opt_tensor_list(const Call& c, size_t i, const char* name) {
  uint32_t n = array_length(c, i, name, "an array of Tensors or nulls");
  c10::List<c10::optional<at::Tensor>> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) {
    napi_value v = element(c, i, k);
    napi_valuetype t;
    napi_typeof(c.env, v, &t);
    if (t == napi_null || t == napi_undefined) out.push_back(c10::nullopt);
    else out.push_back(tensor_at(c, v, i, name));
  }
  return out;
}

int64_t to_int(const Call& c, napi_value v, size_t i, const char* name) {
  double d;
  if (napi_get_value_double(c.env, v, &d) != napi_ok) {
    int64_t b;
    bool lossless;
    if (napi_get_value_bigint_int64(c.env, v, &b, &lossless) == napi_ok && lossless) return b;
    arg_error(c, i, name, "an integer");
  }
  if (!std::isfinite(d) || std::floor(d) != d) arg_error(c, i, name, "an integer");
  return static_cast<int64_t>(d);
}

double to_double(const Call& c, napi_value v, size_t i, const char* name) {
  double d;
  if (napi_get_value_double(c.env, v, &d) != napi_ok) arg_error(c, i, name, "a number");
  return d;
}

bool boolean(const Call& c, size_t i, const char* name) {
  bool b;
  if (i >= c.argc || napi_get_value_bool(c.env, c.argv[i], &b) != napi_ok) arg_error(c, i, name, "a boolean");
  return b;
}

// JS has one number type: an integral number becomes an integer Scalar (so int tensors stay
// int, as `t + 2` does in Python), anything else a double.
at::Scalar scalar_from(const Call& c, napi_value v, size_t i, const char* name) {
  napi_valuetype t;
  napi_typeof(c.env, v, &t);
  if (t == napi_number) {
    double d;
    napi_get_value_double(c.env, v, &d);
    if (std::floor(d) == d && std::fabs(d) < 9.2e18) return at::Scalar(static_cast<int64_t>(d));
    return at::Scalar(d);
  }
  if (t == napi_boolean) {
    bool b;
    napi_get_value_bool(c.env, v, &b);
    return at::Scalar(b);
  }
  if (t == napi_bigint) {
    int64_t b;
    bool lossless;
    napi_get_value_bigint_int64(c.env, v, &b, &lossless);
    if (lossless) return at::Scalar(b);
  }
  arg_error(c, i, name, "a number, boolean or bigint");
}

void int_list(const Call& c, size_t i, const char* name, std::vector<int64_t>& out, size_t expand) {
  if (type_of(c, i) == napi_number) {
    out.assign(expand ? expand : 1, to_int(c, c.argv[i], i, name));
    return;
  }
  uint32_t n = array_length(c, i, name, "an integer or an array of integers");
  out.resize(n);
  for (uint32_t k = 0; k < n; ++k) out[k] = to_int(c, element(c, i, k), i, name);
}

c10::optional<at::ArrayRef<double>> opt_float_list(const Call& c, size_t i, const char* name, std::vector<double>& buf) {
  if (absent(c, i)) return c10::nullopt;
  uint32_t n = array_length(c, i, name, "an array of numbers");
  buf.resize(n);
  for (uint32_t k = 0; k < n; ++k) buf[k] = to_double(c, element(c, i, k), i, name);
  return at::ArrayRef<double>(buf);
}

at::ScalarType dtype(const Call& c, size_t i, const char* name) {
  int64_t v = i64(c, i, name);
  if (v < 0 || v >= static_cast<int64_t>(at::ScalarType::NumOptions)) arg_error(c, i, name, "a dtype code");
  return static_cast<at::ScalarType>(v);
}

at::Layout layout(const Call& c, size_t i, const char* name) {
  int64_t v = i64(c, i, name);
  if (v != static_cast<int64_t>(at::kStrided)) arg_error(c, i, name, "the strided layout (0)");
  return static_cast<at::Layout>(v);
}

at::Device device(const Call& c, size_t i, const char* name) {
  return at::Device(string(c, i, name));  // c10 parses "cpu", "cuda", "cuda:1", ... and throws on bad input
}

at::MemoryFormat memory_format(const Call& c, size_t i, const char* name) {
  int64_t v = i64(c, i, name);
  if (v < 0 || v >= static_cast<int64_t>(at::MemoryFormat::NumOptions)) arg_error(c, i, name, "a memory format code");
  return static_cast<at::MemoryFormat>(v);
}

std::string string(const Call& c, size_t i, const char* name) {
  size_t n = 0;
  if (i >= c.argc || napi_get_value_string_utf8(c.env, c.argv[i], nullptr, 0, &n) != napi_ok) arg_error(c, i, name, "a string");
  std::string s(n, '\0');
  napi_get_value_string_utf8(c.env, c.argv[i], s.data(), n + 1, &n);
  return s;
}

std::vector<std::string> string_list(const Call& c, size_t i, const char* name) {
  uint32_t n = array_length(c, i, name, "an array of strings");
  std::vector<std::string> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) {
    napi_value v = element(c, i, k);
    size_t len = 0;
    if (napi_get_value_string_utf8(c.env, v, nullptr, 0, &len) != napi_ok) arg_error(c, i, name, "an array of strings");
    std::string s(len, '\0');
    napi_get_value_string_utf8(c.env, v, s.data(), len + 1, &len);
    out.push_back(std::move(s));
  }
  return out;
}

// ---- results --------------------------------------------------------------------------

napi_value wrap(const Call& c, at::Tensor&& t) {
  napi_value v;
  if (!t.defined()) {
    napi_get_null(c.env, &v);
    return v;
  }
  napi_create_uint32(c.env, table().insert(c.env, std::move(t)), &v);
  return v;
}

napi_value wrap_list(const Call& c, std::vector<at::Tensor>&& ts) {
  napi_value arr;
  napi_create_array_with_length(c.env, ts.size(), &arr);
  for (uint32_t k = 0; k < ts.size(); ++k) napi_set_element(c.env, arr, k, wrap(c, std::move(ts[k])));
  return arr;
}

napi_value undefined_value(const Call& c) {
  napi_value v;
  napi_get_undefined(c.env, &v);
  return v;
}
napi_value ret_bool(const Call& c, bool b) {
  napi_value v;
  napi_get_boolean(c.env, b, &v);
  return v;
}
napi_value ret_int(const Call& c, int64_t i) {
  napi_value v;
  napi_create_int64(c.env, i, &v);
  return v;
}
napi_value ret_double(const Call& c, double d) {
  napi_value v;
  napi_create_double(c.env, d, &v);
  return v;
}
napi_value ret_scalar(const Call& c, const at::Scalar& s) {
  if (s.isBoolean()) return ret_bool(c, s.toBool());
  if (s.isIntegral(false)) return ret_int(c, s.toLong());
  return ret_double(c, s.toDouble());
}
napi_value ret_dtype(const Call& c, at::ScalarType t) { return ret_int(c, static_cast<int64_t>(t)); }

// ---- exception boundary ---------------------------------------------------------------

napi_value throw_current(Call& c) {
  ErrorKind kind = ErrorKind::Torch;
  std::string msg;
  try {
    throw;
  } catch (const ArgError& e) {
    kind = ErrorKind::Argument;
    msg = e.what();
  } catch (const DisposedError& e) {
    kind = ErrorKind::Disposed;
    msg = e.what();
  } catch (const c10::IndexError& e) {
    kind = ErrorKind::Index;
    msg = e.what_without_backtrace();
  } catch (const c10::TypeError& e) {
    kind = ErrorKind::Type;
    msg = e.what_without_backtrace();
  } catch (const c10::ValueError& e) {
    kind = ErrorKind::Value;
    msg = e.what_without_backtrace();
  } catch (const c10::NotImplementedError& e) {
    kind = ErrorKind::NotImplemented;
    msg = e.what_without_backtrace();
  } catch (const c10::OutOfMemoryError& e) {
    kind = ErrorKind::OutOfMemory;
    msg = e.what_without_backtrace();
  } catch (const c10::Error& e) {
    msg = e.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    kind = ErrorKind::OutOfMemory;
    msg = "out of memory";
  } catch (const std::exception& e) {
    msg = e.what();
  } catch (...) {
    msg = "unknown C++ exception";
  }
  throw_js(c.env, kind, msg, c.op);
  return nullptr;
}

}  // namespace tl
