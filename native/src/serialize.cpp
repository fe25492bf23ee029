// torch.save / torch.load in PyTorch's own format (a zip holding data.pkl and one record per
// storage). Saving goes through libtorch's pickle_save, so Python opens what torchlight
// writes. JS values map to IValues as Python objects map to them:
//   null → None, boolean → bool, integral number/bigint → int, number → float, string → str,
//   Array → list, plain object → dict with str keys, Map → dict (int or str keys), Tensor → tensor.
// Loading is done in JS (serialization.ts) from the records readZip returns: libtorch's
// unpickler rejects Python's state dicts (an OrderedDict carrying `_metadata`).
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>

#include "convert.h"
#include "entries.h"

namespace tl {
namespace {

#define TL_FN(NAME) static napi_value NAME(napi_env env, napi_callback_info info)

constexpr int kMaxDepth = 64;

struct ToIValue {
  const Call& c;
  napi_value tensor_class;

  [[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw ArgError("save(): cannot store " + what + " at " + (path.empty() ? "the top level" : path) +
                   "; torch.save stores Tensors, numbers, bigints, strings, booleans, null, arrays, plain objects and Maps");
  }

  c10::IValue key(napi_value k, const std::string& path) {
    napi_valuetype t;
    napi_typeof(c.env, k, &t);
    if (t == napi_string) return c10::IValue(js_str(k));
    if (t == napi_number) {
      double d;
      napi_get_value_double(c.env, k, &d);
      if (std::floor(d) == d && std::isfinite(d)) return c10::IValue(static_cast<int64_t>(d));
    }
    fail(path, "a Map key that is neither a string nor an integer");
  }

  std::string js_str(napi_value v) {
    size_t n = 0;
    napi_get_value_string_utf8(c.env, v, nullptr, 0, &n);
    std::string s(n, '\0');
    napi_get_value_string_utf8(c.env, v, s.data(), n + 1, &n);
    return s;
  }

  c10::IValue convert(napi_value v, const std::string& path, int depth) {
    if (depth > kMaxDepth) fail(path, "a structure nested deeper than 64 levels (a cycle?)");
    napi_valuetype t;
    napi_typeof(c.env, v, &t);
    switch (t) {
      case napi_undefined:
      case napi_null:
        return c10::IValue();
      case napi_boolean: {
        bool b;
        napi_get_value_bool(c.env, v, &b);
        return c10::IValue(b);
      }
      case napi_number: {
        double d;
        napi_get_value_double(c.env, v, &d);
        if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0) return c10::IValue(static_cast<int64_t>(d));
        return c10::IValue(d);
      }
      case napi_bigint: {
        int64_t b;
        bool lossless;
        napi_get_value_bigint_int64(c.env, v, &b, &lossless);
        if (!lossless) fail(path, "a bigint outside the int64 range");
        return c10::IValue(b);
      }
      case napi_string:
        return c10::IValue(js_str(v));
      case napi_object:
        break;
      default:
        fail(path, "a function or symbol");
    }
    bool is_tensor = false;
    napi_instanceof(c.env, v, tensor_class, &is_tensor);
    if (is_tensor) {
      napi_value h;
      napi_get_named_property(c.env, v, "_h", &h);
      return c10::IValue(tensor_at(c, h, 0, path.empty() ? "value" : path.c_str()).detach());
    }
    bool is_array = false;
    napi_is_array(c.env, v, &is_array);
    if (is_array) {
      uint32_t n;
      napi_get_array_length(c.env, v, &n);
      c10::impl::GenericList list(c10::AnyType::get());
      list.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        napi_value e;
        napi_get_element(c.env, v, i, &e);
        list.push_back(convert(e, path + "[" + std::to_string(i) + "]", depth + 1));
      }
      return c10::IValue(std::move(list));
    }
    napi_value global, map_ctor, object_proto, proto;
    napi_get_global(c.env, &global);
    napi_get_named_property(c.env, global, "Map", &map_ctor);
    bool is_map = false;
    napi_instanceof(c.env, v, map_ctor, &is_map);
    if (is_map) {
      // entries come through Array.from(map) so insertion order is kept
      napi_value array_ctor, from, entries;
      napi_get_named_property(c.env, global, "Array", &array_ctor);
      napi_get_named_property(c.env, array_ctor, "from", &from);
      napi_call_function(c.env, array_ctor, from, 1, &v, &entries);
      uint32_t n;
      napi_get_array_length(c.env, entries, &n);
      c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
      for (uint32_t i = 0; i < n; ++i) {
        napi_value kv, k, val;
        napi_get_element(c.env, entries, i, &kv);
        napi_get_element(c.env, kv, 0, &k);
        napi_get_element(c.env, kv, 1, &val);
        c10::IValue ik = key(k, path);
        std::string sub = path + "[" + (ik.isString() ? ik.toStringRef() : std::to_string(ik.toInt())) + "]";
        dict.insert_or_assign(std::move(ik), convert(val, sub, depth + 1));
      }
      return c10::IValue(std::move(dict));
    }
    // only plain objects: a class instance (a Module, a Date) would lose its meaning
    napi_value object_ctor;
    napi_get_named_property(c.env, global, "Object", &object_ctor);
    napi_get_named_property(c.env, object_ctor, "prototype", &object_proto);
    napi_get_prototype(c.env, v, &proto);
    bool plain = false, null_proto = false;
    napi_strict_equals(c.env, proto, object_proto, &plain);
    napi_valuetype pt;
    napi_typeof(c.env, proto, &pt);
    null_proto = pt == napi_null;
    if (!plain && !null_proto) fail(path, "a class instance (" + describe(c.env, v) + "); store its stateDict() instead");
    napi_value keys;
    napi_get_property_names(c.env, v, &keys);
    uint32_t n;
    napi_get_array_length(c.env, keys, &n);
    c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
    for (uint32_t i = 0; i < n; ++i) {
      napi_value k, val;
      napi_get_element(c.env, keys, i, &k);
      napi_get_property(c.env, v, k, &val);
      std::string ks = js_str(k);
      dict.insert_or_assign(ks, convert(val, path.empty() ? ks : path + "." + ks, depth + 1));
    }
    return c10::IValue(std::move(dict));
  }
};

// pickleSave(value, TensorClass) -> Buffer with the bytes of a torch.save file
TL_FN(pickleSave) {
  TL_OP_BEGIN("save", 2);
  ToIValue conv{c, c.argv[1]};
  c10::IValue iv = conv.convert(c.argv[0], "", 0);
  std::vector<char> bytes = torch::jit::pickle_save(iv);
  napi_value buf;
  void* dst;
  napi_create_buffer(env, bytes.size(), &dst, &buf);
  std::memcpy(dst, bytes.data(), bytes.size());
  return buf;
  TL_OP_END;
}

// A zip held in JS memory, read in place by libtorch's own reader.
struct BufferAdapter : caffe2::serialize::ReadAdapterInterface {
  const char* data;
  size_t len;
  BufferAdapter(const char* d, size_t n) : data(d), len(n) {}
  size_t size() const override { return len; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    if (pos >= len) return 0;
    size_t k = std::min<size_t>(n, len - pos);
    std::memcpy(buf, data + pos, k);
    return k;
  }
};

// readZip(bytes) -> [[name, Buffer], ...]: the records of a torch.save zip (names without
// the archive's top folder: "data.pkl", "data/0", ...). Python's files are read here and
// unpickled in JS (serialization.ts), which knows Python's OrderedDicts and Parameters.
TL_FN(readZip) {
  TL_OP_BEGIN("load", 1);
  void* data;
  size_t len;
  bool is_buffer = false;
  napi_is_buffer(env, c.argv[0], &is_buffer);
  if (!is_buffer) arg_error(c, 0, "bytes", "a Buffer");
  napi_get_buffer_info(env, c.argv[0], &data, &len);
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BufferAdapter>(static_cast<const char*>(data), len));
  std::vector<std::string> names = reader.getAllRecords();
  napi_value out;
  napi_create_array_with_length(env, names.size(), &out);
  for (size_t i = 0; i < names.size(); ++i) {
    auto [ptr, size] = reader.getRecord(names[i]);
    napi_value pair, name, buf;
    void* dst;
    napi_create_buffer(env, size, &dst, &buf);
    if (size) std::memcpy(dst, ptr.get(), size);
    napi_create_string_utf8(env, names[i].data(), names[i].size(), &name);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name);
    napi_set_element(env, pair, 1, buf);
    napi_set_element(env, out, i, pair);
  }
  return out;
  TL_OP_END;
}

}  // namespace

const OpEntry serialize_ops[] = {{"pickleSave", pickleSave}, {"readZip", readZip}, {nullptr, nullptr}};

}  // namespace tl
