// c10d for JS: TCPStore rendezvous, ProcessGroupGloo (and ProcessGroupNCCL in a CUDA build of
// libtorch 2.x; compat.h builds either), collectives that return Promises without blocking the JS thread, and
// c10d::Reducer — the bucketing, backward-overlapped gradient averaging engine behind
// PyTorch's own DistributedDataParallel.
//
// Process groups, stores and reducers live in c10d_groups' process-wide tables (ids in JS);
// SyncBatchNorm's autograd function is in sync_batchnorm.cpp. This file holds the entry points. A collective is started on the JS thread (Gloo copies nothing and runs it on its own
// threads) and its completion comes back through the Work's future and a threadsafe function,
// so no libuv thread waits on the network. Rendezvous (which blocks until every rank has
// arrived) runs as async work on the libuv pool.
#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "c10d_groups.h"
#include "compat.h"
#include "convert.h"
#include "entries.h"
#include "sync_batchnorm.h"

namespace tl {
namespace {


// "gloo" or "nccl" (a CUDA build of libtorch 2.x; compat::nccl_group says the fix otherwise)
c10::intrusive_ptr<c10d::ProcessGroup> make_group(bool nccl, const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                  std::chrono::milliseconds timeout) {
  return nccl ? compat::nccl_group(store, rank, size, timeout) : compat::gloo_group(store, rank, size, timeout);
}

bool is_nccl(const Call& c, size_t i) {
  std::string b = string_or(c, i, "backend", "gloo");
  if (b != "gloo" && b != "nccl") throw ArgError(std::string(c.op) + "(): expected backend \"gloo\" or \"nccl\" but received \"" + b + "\"");
  return b == "nccl";
}

using c10d_groups::Group;
using c10d_groups::take;
namespace reg = c10d_groups;

Group& group_of(const Call& c, size_t i) {
  Group* g = reg::find(static_cast<uint32_t>(i64(c, i, "group")));
  if (!g) throw ArgError(std::string(c.op) + "(): the process group was destroyed (or never initialised); call initProcessGroup first");
  return *g;
}

c10d::ReduceOp reduce_op(const Call& c, size_t i) {
  std::string op = string(c, i, "op");
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  throw ArgError(std::string(c.op) + "(): expected op \"sum\", \"avg\", \"product\", \"min\" or \"max\" but received \"" + op + "\"");
}

napi_value make_error(napi_env env, const std::string& message) {
  napi_value msg, code, err;
  napi_create_string_utf8(env, message.c_str(), message.size(), &msg);
  napi_create_string_utf8(env, "DIST_BACKEND_ERROR", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  return err;
}

std::string what_of(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// ---- completion of a Work through its future ---------------------------------------------

struct Pending {
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
  std::string error;  // empty on success
  c10::intrusive_ptr<c10d::Work> work;  // kept alive until completion
  std::vector<at::Tensor> keep;         // the tensors the collective reads and writes
};

void settle_on_js(napi_env env, napi_value, void*, void* data) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(data));
  if (env) {
    if (p->error.empty()) {
      napi_value undef;
      napi_get_undefined(env, &undef);
      napi_resolve_deferred(env, p->deferred, undef);
    } else {
      napi_reject_deferred(env, p->deferred, make_error(env, p->error));
    }
  }
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
}

// Returns a Promise settled when `work` completes.
napi_value promise_of(const Call& c, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep) {
  napi_value promise, name;
  auto* p = new Pending{};
  napi_create_promise(c.env, &p->deferred, &promise);
  napi_create_string_utf8(c.env, c.op, NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(c.env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, settle_on_js, &p->tsfn);
  p->work = work;
  p->keep = std::move(keep);
  c10::intrusive_ptr<c10::ivalue::Future> fut;
  try {
    fut = work->getFuture();
  } catch (const c10::Error&) {
    // some of Gloo's works (send, recv, barrier in 1.13) have no future: wait on the libuv pool
    napi_threadsafe_function tsfn = p->tsfn;
    std::thread([p, tsfn]() {
      try {
        p->work->wait();
      } catch (...) {
        p->error = what_of(std::current_exception());
      }
      p->work.reset();
      napi_call_threadsafe_function(tsfn, p, napi_tsfn_blocking);
    }).detach();
    return promise;
  }
  fut->addCallback([p](c10::ivalue::Future& f) {
    if (f.hasError()) p->error = what_of(f.exception_ptr());
    p->work.reset();
    napi_call_threadsafe_function(p->tsfn, p, napi_tsfn_blocking);
  });
  return promise;
}

// ---- async work on the libuv pool (rendezvous, coalesced broadcasts) ---------------------

struct Job {
  napi_async_work work;
  napi_deferred deferred;
  std::function<void()> run;
  std::function<napi_value(napi_env)> done;
  std::string error;
};

napi_value run_async(const Call& c, std::function<void()> run, std::function<napi_value(napi_env)> done) {
  napi_value promise, name;
  auto* job = new Job{nullptr, nullptr, std::move(run), std::move(done), {}};
  napi_create_promise(c.env, &job->deferred, &promise);
  napi_create_string_utf8(c.env, c.op, NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      c.env, nullptr, name,
      [](napi_env, void* data) {
        auto* j = static_cast<Job*>(data);
        try {
          j->run();
        } catch (...) {
          j->error = what_of(std::current_exception());
        }
      },
      [](napi_env env, napi_status, void* data) {
        std::unique_ptr<Job> j(static_cast<Job*>(data));
        if (j->error.empty()) napi_resolve_deferred(env, j->deferred, j->done(env));
        else napi_reject_deferred(env, j->deferred, make_error(env, j->error));
        napi_delete_async_work(env, j->work);
      },
      job, &job->work);
  napi_queue_async_work(c.env, job->work);
  return promise;
}

// ---- process groups ------------------------------------------------------------------------

// pgInit(host, port, worldSize, rank, timeoutMs, isServer, rendezvousTimeoutMs, prefix, backend) -> Promise<id>.
// Rank 0 (or whoever isServer) hosts the TCPStore, unless a launcher hosts it (then every rank
// is a client, as under torchrun's agent store); everyone then builds a Gloo group over it.
// `prefix` (default none) scopes every key of this group, its subgroups and store calls, as
// PyTorch's "/worker/attempt_N" does, so a restarted group never reads the last attempt's keys.
TL_FN(pgInit) {
  TL_OP_BEGIN("init_process_group", 9);
  std::string host = string(c, 0, "host");
  int64_t port = i64(c, 1, "port"), world = i64(c, 2, "worldSize"), rank = i64(c, 3, "rank"), timeout_ms = i64(c, 4, "timeoutMs");
  bool is_server = boolean(c, 5, "isServer");
  int64_t rdv_ms = i64_or(c, 6, "rendezvousTimeoutMs", timeout_ms);
  std::string prefix = string_or(c, 7, "prefix", "");
  bool nccl = is_nccl(c, 8);
  if (nccl) compat::require_nccl();  // the error that names the fix, before any rendezvous
  if (world < 1 || rank < 0 || rank >= world) throw ArgError("init_process_group(): rank " + std::to_string(rank) + " is outside [0, " + std::to_string(world) + ")");
  if (port < 1 || port > 65535) throw ArgError("init_process_group(): port " + std::to_string(port) + " is not a TCP port");
  auto id = std::make_shared<uint32_t>(0);
  return run_async(
      c,
      [=]() {
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<uint16_t>(port);
        opts.isServer = is_server;
        opts.numWorkers = static_cast<size_t>(world);
        opts.waitWorkers = false;
        opts.timeout = std::chrono::milliseconds(rdv_ms);
        c10::intrusive_ptr<c10d::Store> store = compat::tcp_store(host, opts);
        if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
        auto pg = make_group(nccl, prefixed, static_cast<int>(rank), static_cast<int>(world), std::chrono::milliseconds(timeout_ms));
        std::lock_guard<std::mutex> lock(reg::mutex);
        *id = reg::next_id();
        reg::groups[*id] = Group{store, pg, std::make_shared<std::mutex>(), nccl};
      },
      [id](napi_env env) {
        napi_value v;
        napi_create_uint32(env, *id, &v);
        return v;
      });
  TL_OP_END;
}

// storeServe(host, port, worldSize, timeoutMs) -> Promise<[id, port]>: a TCPStore server in this
// process (port 0: the system picks one), for a launcher that hosts the rendezvous as torchrun's
// agent does; the workers join it as clients. storeClose(id) stops it.
TL_FN(storeServe) {
  TL_OP_BEGIN("store_serve", 4);
  std::string host = string(c, 0, "host");
  int64_t port = i64(c, 1, "port"), world = i64(c, 2, "worldSize"), timeout_ms = i64(c, 3, "timeoutMs");
  if (port < 0 || port > 65535) throw ArgError("store_serve(): port " + std::to_string(port) + " is not a TCP port (0 picks a free one)");
  if (world < 1) throw ArgError("store_serve(): worldSize must be at least 1");
  auto out = std::make_shared<std::pair<uint32_t, uint16_t>>(0, 0);
  return run_async(
      c,
      [=]() {
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<uint16_t>(port);
        opts.isServer = true;
        opts.numWorkers = static_cast<size_t>(world);
        opts.waitWorkers = false;
        opts.timeout = std::chrono::milliseconds(timeout_ms);
        auto store = compat::tcp_store(host, opts);
        std::lock_guard<std::mutex> lock(reg::mutex);
        out->first = reg::next_id();
        out->second = store->getPort();
        reg::served[out->first] = store;
      },
      [out](napi_env env) {
        napi_value arr, id, p;
        napi_create_array_with_length(env, 2, &arr);
        napi_create_uint32(env, out->first, &id);
        napi_create_uint32(env, out->second, &p);
        napi_set_element(env, arr, 0, id);
        napi_set_element(env, arr, 1, p);
        return arr;
      });
  TL_OP_END;
}

TL_FN(storeClose) {
  TL_OP_BEGIN("store_close", 1);
  auto dead = take(reg::served, static_cast<uint32_t>(i64(c, 0, "store")));
  return undefined_value(c);  // the server stops here, outside the lock
  TL_OP_END;
}

// pgNew(parent, ranks[], timeoutMs, tag) -> Promise<id>: a subgroup over the parent's store
// (every rank of the parent calls it, as torch.distributed.new_group)
TL_FN(pgNew) {
  TL_OP_BEGIN("new_group", 5);
  Group& parent = group_of(c, 0);
  std::vector<int64_t> ranks;
  int_list(c, 1, "ranks", ranks, 0);
  int64_t timeout_ms = i64(c, 2, "timeoutMs"), my_rank = i64(c, 3, "rank");
  std::string tag = string(c, 4, "tag");
  auto store = parent.store;
  auto store_mutex = parent.store_mutex;
  bool nccl = parent.nccl;
  auto id = std::make_shared<uint32_t>(0);
  return run_async(
      c,
      [=]() {
        int sub_rank = -1;
        for (size_t k = 0; k < ranks.size(); ++k)
          if (ranks[k] == my_rank) sub_rank = static_cast<int>(k);
        if (sub_rank < 0) return;  // not a member: id stays 0
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>(tag, store);
        c10::intrusive_ptr<c10d::ProcessGroup> pg;
        {
          std::lock_guard<std::mutex> store_lock(*store_mutex);  // its rendezvous talks to the store
          pg = make_group(nccl, prefixed, sub_rank, static_cast<int>(ranks.size()), std::chrono::milliseconds(timeout_ms));
        }
        std::lock_guard<std::mutex> lock(reg::mutex);
        *id = reg::next_id();
        reg::groups[*id] = Group{store, pg, store_mutex, nccl};
      },
      [id](napi_env env) {
        napi_value v;
        napi_create_uint32(env, *id, &v);
        return v;
      });
  TL_OP_END;
}

TL_FN(pgDestroy) {
  TL_OP_BEGIN("destroy_process_group", 1);
  Group dead = take(reg::groups, static_cast<uint32_t>(i64(c, 0, "group")));
  return undefined_value(c);  // `dead` is released here, outside the lock
  TL_OP_END;
}

// ---- collectives: each returns a Promise ----------------------------------------------------

TL_FN(pgAllReduce) {
  TL_OP_BEGIN("all_reduce", 3);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> ts = tensor_list(c, 1, "tensors");
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduce_op(c, 2);
  return promise_of(c, g.pg->allreduce(ts, opts), ts);
  TL_OP_END;
}

TL_FN(pgBroadcast) {
  TL_OP_BEGIN("broadcast", 3);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> ts = tensor_list(c, 1, "tensors");
  c10d::BroadcastOptions opts;
  opts.rootRank = i64(c, 2, "src");
  return promise_of(c, g.pg->broadcast(ts, opts), ts);
  TL_OP_END;
}

// pgAllGather(group, outputs[], input)
TL_FN(pgAllGather) {
  TL_OP_BEGIN("all_gather", 3);
  Group& g = group_of(c, 0);
  std::vector<std::vector<at::Tensor>> out{tensor_list(c, 1, "outputs")};
  std::vector<at::Tensor> in{tensor(c, 2, "input")};
  std::vector<at::Tensor> keep = out[0];
  keep.push_back(in[0]);
  return promise_of(c, g.pg->allgather(out, in), keep);
  TL_OP_END;
}

// pgGather(group, outputs[] (the root's; [] elsewhere), input, dst)
TL_FN(pgGather) {
  TL_OP_BEGIN("gather", 4);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> outs = tensor_list(c, 1, "outputs");
  std::vector<std::vector<at::Tensor>> out;
  if (!outs.empty()) out.push_back(outs);
  std::vector<at::Tensor> in{tensor(c, 2, "input")};
  c10d::GatherOptions opts;
  opts.rootRank = i64(c, 3, "dst");
  outs.push_back(in[0]);
  return promise_of(c, g.pg->gather(out, in, opts), outs);
  TL_OP_END;
}

// pgScatter(group, output, inputs[] (the root's; [] elsewhere), src)
TL_FN(pgScatter) {
  TL_OP_BEGIN("scatter", 4);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> out{tensor(c, 1, "output")};
  std::vector<at::Tensor> ins = tensor_list(c, 2, "inputs");
  std::vector<std::vector<at::Tensor>> in;
  if (!ins.empty()) in.push_back(ins);
  c10d::ScatterOptions opts;
  opts.rootRank = i64(c, 3, "src");
  ins.push_back(out[0]);
  return promise_of(c, g.pg->scatter(out, in, opts), ins);
  TL_OP_END;
}

TL_FN(pgBarrier) {
  TL_OP_BEGIN("barrier", 1);
  Group& g = group_of(c, 0);
  return promise_of(c, g.pg->barrier(c10d::BarrierOptions()), {});
  TL_OP_END;
}

TL_FN(pgSend) {
  TL_OP_BEGIN("send", 4);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> ts{tensor(c, 1, "tensor")};
  return promise_of(c, g.pg->send(ts, static_cast<int>(i64(c, 2, "dst")), static_cast<int>(i64(c, 3, "tag"))), ts);
  TL_OP_END;
}

TL_FN(pgRecv) {
  TL_OP_BEGIN("recv", 4);
  Group& g = group_of(c, 0);
  std::vector<at::Tensor> ts{tensor(c, 1, "tensor")};
  return promise_of(c, g.pg->recv(ts, static_cast<int>(i64(c, 2, "src")), static_cast<int>(i64(c, 3, "tag"))), ts);
  TL_OP_END;
}

// ---- the rendezvous store, for bookkeeping (sequence numbers, who arrived) ------------------

TL_FN(storeSet) {
  TL_OP_BEGIN("store.set", 3);
  Group& g = group_of(c, 0);
  std::string key = string(c, 1, "key"), value = string(c, 2, "value");
  std::lock_guard<std::mutex> lock(*g.store_mutex);
  g.store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  return undefined_value(c);
  TL_OP_END;
}

// storeGetNow(group, keys[]) -> (string | null)[]: the values of the keys that exist, without waiting
TL_FN(storeGetNow) {
  TL_OP_BEGIN("store.get", 2);
  Group& g = group_of(c, 0);
  uint32_t n = array_length(c, 1, "keys", "an array of keys");
  napi_value out;
  napi_create_array_with_length(env, n, &out);
  for (uint32_t k = 0; k < n; ++k) {
    napi_value kv = element(c, 1, k), v;
    size_t len = 0;
    napi_get_value_string_utf8(env, kv, nullptr, 0, &len);
    std::string key(len, '\0');
    napi_get_value_string_utf8(env, kv, key.data(), len + 1, &len);
    std::unique_lock<std::mutex> lock(*g.store_mutex);
    if (g.store->check({key})) {
      auto bytes = g.store->get(key);
      lock.unlock();
      napi_create_string_utf8(env, reinterpret_cast<const char*>(bytes.data()), bytes.size(), &v);
    } else {
      napi_get_null(env, &v);
    }
    napi_set_element(env, out, k, v);
  }
  return out;
  TL_OP_END;
}

// storeGet(group, key, timeoutMs) -> Promise<string>: waits (off the JS thread, polling) until the key exists
TL_FN(storeGet) {
  TL_OP_BEGIN("store.get", 3);
  Group& g = group_of(c, 0);
  std::string key = string(c, 1, "key");
  int64_t timeout_ms = i64(c, 2, "timeoutMs");
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

const OpEntry distributed_ops[] = {
    {"pgInit", pgInit}, {"storeServe", storeServe}, {"storeClose", storeClose}, {"pgNew", pgNew}, {"pgDestroy", pgDestroy}, {"pgAllReduce", pgAllReduce},
    {"pgBroadcast", pgBroadcast}, {"pgAllGather", pgAllGather}, {"pgGather", pgGather}, {"pgScatter", pgScatter},
    {"pgBarrier", pgBarrier}, {"pgSend", pgSend}, {"pgRecv", pgRecv}, {"storeSet", storeSet}, {"storeGetNow", storeGetNow}, {"storeGet", storeGet}, {"broadcastCoalesced", broadcastCoalesced},
    {"broadcastCoalescedSync", broadcastCoalescedSync}, {"reducerNew", reducerNew},
    {"reducerPrepareForward", reducerPrepareForward}, {"reducerPrepareBackward", reducerPrepareBackward},
    {"reducerFree", reducerFree}, {"syncBatchNorm", syncBatchNorm}, {nullptr, nullptr},
};

}  // namespace tl
