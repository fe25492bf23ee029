#include "errors.h"

namespace tl {

static thread_local napi_ref factory = nullptr;

static const char* kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Index: return "index";
    case ErrorKind::Type: return "type";
    case ErrorKind::Value: return "value";
    case ErrorKind::NotImplemented: return "not_implemented";
    case ErrorKind::OutOfMemory: return "out_of_memory";
    case ErrorKind::Argument: return "argument";
    case ErrorKind::Disposed: return "disposed";
    default: return "torch";
  }
}

void set_error_factory(napi_env env, napi_value fn) {
  if (factory) napi_delete_reference(env, factory);
  napi_create_reference(env, fn, 1, &factory);
}

void throw_js(napi_env env, ErrorKind kind, const std::string& message, const char* op) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;  // a JS exception from inside the call wins
  napi_value fn = nullptr;
  if (factory) napi_get_reference_value(env, factory, &fn);
  if (fn) {
    napi_value args[3], global, err;
    napi_create_string_utf8(env, kind_name(kind), NAPI_AUTO_LENGTH, &args[0]);
    napi_create_string_utf8(env, message.c_str(), message.size(), &args[1]);
    napi_create_string_utf8(env, op ? op : "", NAPI_AUTO_LENGTH, &args[2]);
    napi_get_global(env, &global);
    if (napi_call_function(env, global, fn, 3, args, &err) == napi_ok) {
      napi_throw(env, err);
      return;
    }
    napi_is_exception_pending(env, &pending);
    if (pending) return;
  }
  std::string code = std::string("TORCH_") + kind_name(kind);
  for (auto& ch : code) ch = static_cast<char>(toupper(ch));
  if (kind == ErrorKind::Argument) napi_throw_type_error(env, code.c_str(), message.c_str());
  else napi_throw_error(env, code.c_str(), message.c_str());
}

}  // namespace tl
