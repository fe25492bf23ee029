// Turns C++ failures into JS errors of torchlight's own classes (src/torch/errors.ts).
#pragma once

#include <node_api.h>

#include <string>

namespace tl {

enum class ErrorKind { Torch, Index, Type, Value, NotImplemented, OutOfMemory, Argument, Disposed };

// Throws a pending JS exception made by the factory that JS registered with
// setErrorFactory(kind, message, op); before that, a plain Error with a `code`.
void throw_js(napi_env env, ErrorKind kind, const std::string& message, const char* op);
void set_error_factory(napi_env env, napi_value fn);

}  // namespace tl
