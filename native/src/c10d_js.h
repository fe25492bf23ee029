// The N-API glue the c10d entry points share (distributed.cpp: process groups and collectives;
// ddp.cpp: the store's bookkeeping calls, DDP's engine, SyncBatchNorm): a group by its JS id,
// reduce ops by name, and Promises settled from c10d's futures or from work on the libuv pool.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "c10d_groups.h"
#include "convert.h"

namespace tl {
namespace c10d_js {

c10d_groups::Group& group_of(const Call& c, size_t i);
c10d::ReduceOp reduce_op(const Call& c, size_t i);
napi_value make_error(napi_env env, const std::string& message);  // a DistributedError-coded JS error
std::string what_of(std::exception_ptr p);
// A Promise settled when `work` completes; `keep` holds its tensors alive until then.
napi_value promise_of(const Call& c, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep);
// A Promise of `done(env)` once `run` has run on the libuv pool (its exception rejects it).
napi_value run_async(const Call& c, std::function<void()> run, std::function<napi_value(napi_env)> done);

}  // namespace c10d_js

// What distributed.cpp and ddp.cpp use unqualified (`using namespace tl::c10d_entry;`).
namespace c10d_entry {
using c10d_groups::Group;
using c10d_groups::take;
namespace reg = c10d_groups;
using c10d_js::group_of;
using c10d_js::promise_of;
using c10d_js::reduce_op;
using c10d_js::run_async;
}  // namespace c10d_entry
}  // namespace tl
