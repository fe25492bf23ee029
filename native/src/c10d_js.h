// The N-API glue the c10d entry points share (distributed.cpp: process groups and collectives;
// ddp.cpp: the store's bookkeeping calls, DDP's engine, SyncBatchNorm): a group by its JS id,
// reduce ops by name, and Promises settled from c10d's futures or from work on the libuv pool.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "c10d_groups.h"
#include "convert.h"

namespace tl {
namespace c10d_js {

c10d_groups::Group& group_of(const Call& c, size_t i);  // a process group
c10d_groups::Group& store_of(const Call& c, size_t i);  // a process group's store, or a storeConnect connection
c10d::ReduceOp reduce_op(const Call& c, size_t i);
napi_value make_error(napi_env env, const std::string& message);  // a DistributedError-coded JS error
std::string what_of(std::exception_ptr p);
// A Promise settled when `work` completes; `keep` holds its tensors alive until then.
napi_value promise_of(const Call& c, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep);
// A Promise of `done(env)` once `run` has run on the libuv pool (its exception rejects it).
napi_value run_async(const Call& c, std::function<void()> run, std::function<napi_value(napi_env)> done);

// Store values for JS: an array of strings, null where a key was absent.
template <typename Bytes>
napi_value strings_or_null(napi_env env, const std::vector<std::optional<Bytes>>& values) {
  napi_value out;
  napi_create_array_with_length(env, values.size(), &out);
  for (uint32_t k = 0; k < values.size(); ++k) {
    napi_value v;
    if (values[k]) napi_create_string_utf8(env, reinterpret_cast<const char*>(values[k]->data()), values[k]->size(), &v);
    else napi_get_null(env, &v);
    napi_set_element(env, out, k, v);
  }
  return out;
}

// A TCPStore's options (libtorch's defaults otherwise): server or client, the world, the timeout.
inline c10d::TCPStoreOptions tcp_store_options(int64_t port, bool is_server, int64_t world, int64_t timeout_ms) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(port);
  opts.isServer = is_server;
  opts.numWorkers = static_cast<size_t>(world);
  opts.waitWorkers = false;
  opts.timeout = std::chrono::milliseconds(timeout_ms);
  return opts;
}

}  // namespace c10d_js

// What distributed.cpp and ddp.cpp use unqualified (`using namespace tl::c10d_entry;`).
namespace c10d_entry {
using c10d_groups::Group;
using c10d_groups::take;
namespace reg = c10d_groups;
using c10d_js::group_of;
using c10d_js::store_of;
using c10d_js::promise_of;
using c10d_js::reduce_op;
using c10d_js::run_async;
using c10d_js::strings_or_null;
using c10d_js::tcp_store_options;
}  // namespace c10d_entry
}  // namespace tl
