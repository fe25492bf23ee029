// Entry points beside the process groups: the rendezvous store's bookkeeping calls (sequence
// numbers, who arrived), DistributedDataParallel's engine (coalesced broadcasts and
// c10d::Reducer, the bucketing, backward-overlapped gradient averaging behind PyTorch's DDP),
// and SyncBatchNorm (its autograd function is in sync_batchnorm.cpp).
#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "auth_store.h"
#include "c10d_groups.h"
#include "c10d_js.h"
#include "compat.h"
#include "convert.h"
#include "entries.h"
#include "sync_batchnorm.h"

namespace tl {
namespace {
using namespace c10d_entry;  // NOLINT(google-build-using-namespace)

// ---- the rendezvous store, for bookkeeping (sequence numbers, who arrived) ------------------

TL_FN(storeSet) {
  TL_OP_BEGIN("store.set", 3);
  Group& g = store_of(c, 0);
  std::string key = string(c, 1, "key"), value = string(c, 2, "value");
  std::lock_guard<std::mutex> lock(*g.store_mutex);
  g.store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  return undefined_value(c);
  TL_OP_END;
}

// storeGetNow(group, keys[], setKey?, setValue?) -> (string | null)[]: the values of the keys
// that exist, without waiting; with setKey, that key is set first (a collective's bookkeeping:
// one round trip on the private store, a set and a check + get per key on a TCPStore).
TL_FN(storeGetNow) {
  TL_OP_BEGIN("store.get", 4);
  Group& g = store_of(c, 0);
  std::vector<std::string> keys = string_list(c, 1, "keys");
  std::string set_key = string_or(c, 2, "setKey", ""), set_value = string_or(c, 3, "setValue", "");
  std::vector<uint8_t> set_bytes(set_value.begin(), set_value.end());
  std::vector<std::optional<std::vector<uint8_t>>> got;
  {
    std::lock_guard<std::mutex> lock(*g.store_mutex);
    if (auto* priv = dynamic_cast<auth_store::Client*>(g.store.get())) {
      got = set_key.empty() ? priv->get_now(keys) : priv->set_get_now(set_key, set_bytes, keys);
    } else {
      if (!set_key.empty()) g.store->set(set_key, set_bytes);
      for (auto& key : keys) got.push_back(g.store->check({key}) ? std::optional<std::vector<uint8_t>>(g.store->get(key)) : std::nullopt);
    }
  }
  return strings_or_null(env, got);
  TL_OP_END;
}

// storeAdd(group, key, delta) -> number: adds to the key's counter (created at 0), returns the new value
TL_FN(storeAdd) {
  TL_OP_BEGIN("store.add", 3);
  Group& g = store_of(c, 0);
  std::string key = string(c, 1, "key");
  int64_t delta = i64(c, 2, "delta");
  int64_t v;
  {
    std::lock_guard<std::mutex> lock(*g.store_mutex);
    v = g.store->add(key, delta);
  }
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
  TL_OP_END;
}

// storeGet(group, key, timeoutMs, take?) -> Promise<string>: waits (off the JS thread, polling)
// until the key exists; with take, deletes it once read (a key its one reader consumes)
TL_FN(storeGet) {
  TL_OP_BEGIN("store.get", 4);
  Group& g = store_of(c, 0);
  std::string key = string(c, 1, "key");
  int64_t timeout_ms = i64(c, 2, "timeoutMs");
  bool take = boolean_or(c, 3, "take", false);
  auto store = g.store;
  auto mutex = g.store_mutex;
  auto value = std::make_shared<std::string>();
  return run_async(c, [=]() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto pause = std::chrono::microseconds(200);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(*mutex);
        if (store->check({key})) {
          auto bytes = store->get(key);
          value->assign(bytes.begin(), bytes.end());
          if (take) store->deleteKey(key);
          return;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("timed out after " + std::to_string(timeout_ms) + " ms waiting for store key " + key);
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
  }, [value](napi_env env) {
    napi_value v;
    napi_create_string_utf8(env, value->data(), value->size(), &v);
    return v;
  });
  TL_OP_END;
}

// ---- DistributedDataParallel's engine -------------------------------------------------------

// broadcastCoalesced(group, tensors[], bufferBytes, src) -> Promise: rank src's values everywhere
TL_FN(broadcastCoalesced) {
  TL_OP_BEGIN("broadcast_coalesced", 4);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> ts = tensor_list(c, 1, "tensors");
  size_t bytes = static_cast<size_t>(i64(c, 2, "bufferBytes"));
  int src = static_cast<int>(i64(c, 3, "src"));
  auto pg = g.pg;
  return run_async(c, [=]() {
    at::NoGradGuard no_grad;  // copies into parameters, as PyTorch's DDP does under no_grad
    c10d::broadcast_coalesced(pg, ts, bytes, src);
  }, [](napi_env env) {
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
  });
  TL_OP_END;
}

// broadcastCoalescedSync(group, tensors[], bufferBytes, src): the same, waiting on the JS
// thread, as PyTorch's DDP does for buffers before each forward (a forward is synchronous)
TL_FN(broadcastCoalescedSync) {
  TL_OP_BEGIN("broadcast_coalesced", 4);
  Group& g = group_of(c, 0);
  at::NoGradGuard no_grad;
  c10d::broadcast_coalesced(g.pg, tensor_list(c, 1, "tensors"), static_cast<size_t>(i64(c, 2, "bufferBytes")), static_cast<int>(i64(c, 3, "src")));
  return undefined_value(c);
  TL_OP_END;
}

// reducerNew(group, params[], bucketBytes, firstBucketBytes, findUnused, gradientAsBucketView) -> id
TL_FN(reducerNew) {
  TL_OP_BEGIN("Reducer", 6);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> params = tensor_list(c, 1, "params");
  int64_t cap = i64(c, 2, "bucketBytes"), first = i64(c, 3, "firstBucketBytes");
  bool find_unused = boolean(c, 4, "findUnusedParameters"), as_view = boolean(c, 5, "gradientAsBucketView");
  std::vector<bool> sparse(params.size(), false);
  // as DistributedDataParallel: a small first bucket so communication starts early, buckets
  // in reverse order (gradients arrive last layer first)
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(params, {static_cast<size_t>(first), static_cast<size_t>(cap)}, sparse);
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  auto reducer = compat::reducer(params, buckets, limits, g.pg, sparse, cap, find_unused, as_view, first);
  std::lock_guard<std::mutex> lock(reg::mutex);
  uint32_t id = reg::next_id();
  reg::reducers[id] = std::move(reducer);
  napi_value v;
  napi_create_uint32(env, id, &v);
  return v;
  TL_OP_END;
}

c10d::Reducer& reducer_of(const Call& c, size_t i) {
  uint32_t id = static_cast<uint32_t>(i64(c, i, "reducer"));
  std::lock_guard<std::mutex> lock(reg::mutex);
  auto it = reg::reducers.find(id);
  if (it == reg::reducers.end()) throw ArgError(std::string(c.op) + "(): the DistributedDataParallel wrapper was disposed");
  return *it->second;
}

// reducerPrepareForward(id): before a forward that will be followed by a synchronising backward
TL_FN(reducerPrepareForward) {
  TL_OP_BEGIN("DistributedDataParallel.forward", 1);
  c10d::Reducer& r = reducer_of(c, 0);
  r.prepare_for_forward();
  r.rebuild_buckets();  // first iteration: buckets in the order gradients really arrived
  return undefined_value(c);
  TL_OP_END;
}

// reducerPrepareBackward(id, outputs[]): arms the gradient hooks for the next backward
TL_FN(reducerPrepareBackward) {
  TL_OP_BEGIN("DistributedDataParallel.forward", 2);
  c10d::Reducer& r = reducer_of(c, 0);
  r.prepare_for_backward(tensor_list(c, 1, "outputs"));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(reducerFree) {
  TL_OP_BEGIN("DistributedDataParallel.dispose", 1);
  auto dead = take(reg::reducers, static_cast<uint32_t>(i64(c, 0, "reducer")));
  return undefined_value(c);
  TL_OP_END;
}

// syncBatchNorm(group, input, weight?, bias?, runningMean?, runningVar?, eps, momentum) -> Tensor
TL_FN(syncBatchNorm) {
  TL_OP_BEGIN("SyncBatchNorm", 8);
  int64_t group = i64(c, 0, "group");
  group_of(c, 0);  // a clear error now for a destroyed group
  const at::Tensor& input = tensor(c, 1, "input");
  auto opt = [&](size_t i, const char* name) { return absent(c, i) ? at::Tensor() : tensor(c, i, name); };
  if (input.dim() < 2) throw ArgError("SyncBatchNorm: expected an input of at least 2 dimensions (N, C, ...) but received shape " + c10::str(input.sizes()));
  return wrap(c, sync_batch_norm(group, input, opt(2, "weight"), opt(3, "bias"), opt(4, "runningMean"), opt(5, "runningVar"), f64(c, 6, "eps"), f64(c, 7, "momentum")));
  TL_OP_END;
}

}  // namespace

const OpEntry ddp_ops[] = {
    {"storeSet", storeSet}, {"storeGetNow", storeGetNow}, {"storeGet", storeGet}, {"storeAdd", storeAdd}, {"broadcastCoalesced", broadcastCoalesced},
    {"broadcastCoalescedSync", broadcastCoalescedSync}, {"reducerNew", reducerNew},
    {"reducerPrepareForward", reducerPrepareForward}, {"reducerPrepareBackward", reducerPrepareBackward},
    {"reducerFree", reducerFree}, {"syncBatchNorm", syncBatchNorm}, {nullptr, nullptr},
};

}  // namespace tl
