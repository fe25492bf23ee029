// Module entry and the hand-written entry points of tensors: creation from JS memory,
// lifetime, metadata, data access, autograd and grad mode (runtime.cpp: seeding, threads,
// autocast, CUDA, the runtime report). The bulk of
// the ops are generated (generated/ops_*.cpp); everything here follows the same rules:
// handles in, handles out, every C++ exception turned into a JS error by TL_OP_END.
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cstring>

#include "compat.h"
#include "convert.h"
#include "errors.h"
#include "generated/ops.h"
#include "entries.h"

namespace tl {
namespace {


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

// A GC-time finalizer (Node-API's basic finalizer, under NAPI_EXPERIMENTAL): it runs inside
// the garbage collection that finds the Tensor unreachable, so a loop that never yields to the
// event loop still frees what it drops. It touches no JS state, only the table.
static void free_from_gc(node_api_basic_env, void* data, void*) {
  auto packed = reinterpret_cast<uintptr_t>(data);
  if (Addon* a = addon_or_null()) a->tensors.release_from_gc(static_cast<uint32_t>(packed), static_cast<uint32_t>(packed >> 32));
}

// gcWatch(tensors, handles): ties each handle's lifetime to its JS Tensor object. Called in
// batches for tensors that outlive their first moments (see memory.ts), never inside tidy().
TL_FN(gcWatch) {
  TL_OP_BEGIN("gcWatch", 2);
  uint32_t n = array_length(c, 0, "tensors", "an array of Tensors");
  if (array_length(c, 1, "handles", "an array of handles") != n) arg_error(c, 1, "handles", "as many handles as tensors");
  TensorTable& tt = table();
  uint32_t h;
  for (uint32_t k = 0; k < n; ++k) {
    if (napi_get_value_uint32(env, element(c, 1, k), &h) != napi_ok) continue;
    uint32_t gen = tt.generation(h);
    if (gen == 0) continue;  // disposed meanwhile
    void* packed = reinterpret_cast<void*>((static_cast<uintptr_t>(gen) << 32) | h);
    napi_wrap(env, element(c, 0, k), packed, free_from_gc, nullptr, nullptr);  // already watched: napi_invalid_arg, fine
  }
  tt.flush_pressure(env);
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

struct Entry {
  const char* name;
  napi_callback fn;
};

const Entry kCore[] = {
    {"fromTypedArray", fromTypedArray}, {"dispose", dispose}, {"disposeMany", disposeMany}, {"gcWatch", gcWatch},
    {"memory", liveTensors}, {"shape", shape}, {"strides", strides}, {"dim", dim}, {"size", size},
    {"numel", numel}, {"dtype", scalarType}, {"device", deviceOf}, {"isContiguous", isContiguous},
    {"contiguous", contiguous}, {"storageOffset", storageOffset}, {"sharesStorage", sharesStorage},
    {"data", data}, {"item", item}, {"requiresGrad", requiresGrad}, {"setRequiresGrad", setRequiresGrad},
    {"isLeaf", isLeaf}, {"grad", grad}, {"setGrad", setGrad}, {"gradFn", gradFn}, {"retainGrad", retainGrad},
    {"backward", backward}, {"autogradGrad", autogradGrad}, {"setGradEnabled", setGradEnabled},
    {"isGradEnabled", isGradEnabled}, };

void define(napi_env env, napi_value target, const char* name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
  napi_set_named_property(env, target, name, f);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  setup_process();
  at::init_num_threads();  // this thread may be a worker_thread: give it the thread settings
  attach_addon(env);
  for (const Entry& e : kCore) define(env, exports, e.name, e.fn);
  for (const OpEntry* t : {runtime_ops, optim_ops, serialize_ops, generator_ops, share_ops, distributed_ops, ddp_ops, watchdog_ops})
    for (const OpEntry* e = t; e->name; ++e) define(env, exports, e->name, e->fn);
  Napi::Object ops = Napi::Object::New(env);
  size_t count = 0;
  for (const OpEntry* t : op_tables)
    for (const OpEntry* e = t; e->name; ++e, ++count) define(env, ops, e->name, e->fn);
  exports.Set("ops", ops);
  exports.Set("opCount", static_cast<double>(count));
  exports.Set("config", Napi::Function::New(env, runtime_config, "config"));
  // Bytes of tensors created since JS last handed tensors to gcWatch: memory.ts reads it to
  // hand them over before much memory waits unwatched. The ArrayBuffer lives with the exports.
  void* counter = nullptr;
  napi_value ab;
  napi_create_arraybuffer(env, sizeof(double), &counter, &ab);
  *static_cast<double*>(counter) = 0;
  napi_ref keep_alive;
  napi_create_reference(env, ab, 1, &keep_alive);
  table().set_unwatched(static_cast<double*>(counter));
  exports.Set("unwatchedBytes", Napi::Value(env, ab));
  return exports;
}

}  // namespace
}  // namespace tl

static Napi::Object InitTorchlight(Napi::Env env, Napi::Object exports) { return tl::Init(env, exports); }
NODE_API_MODULE(torchlight, InitTorchlight)
