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

#include "auth_store.h"
#include "c10d_groups.h"
#include "c10d_js.h"
#include "compat.h"
#include "convert.h"
#include "entries.h"

namespace tl {
namespace {


// "gloo" or "nccl" (a CUDA build of libtorch 2.x; compat::nccl_group says the fix otherwise)
c10::intrusive_ptr<c10d::ProcessGroup> make_group(bool nccl, const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                  std::chrono::milliseconds timeout, const std::string& device) {
  return nccl ? compat::nccl_group(store, rank, size, timeout) : compat::gloo_group(store, rank, size, timeout, device);
}

bool is_nccl(const Call& c, size_t i) {
  std::string b = string_or(c, i, "backend", "gloo");
  if (b != "gloo" && b != "nccl") throw ArgError(std::string(c.op) + "(): expected backend \"gloo\" or \"nccl\" but received \"" + b + "\"");
  return b == "nccl";
}

using namespace c10d_entry;  // NOLINT(google-build-using-namespace)

// ---- process groups ------------------------------------------------------------------------

// pgInit(host, port, worldSize, rank, timeoutMs, isServer, rendezvousTimeoutMs, prefix, backend, secret, device) -> Promise<id>.
// Rank 0 (or whoever isServer) hosts the store, unless a launcher hosts it (then every rank
// is a client, as under torchrun's agent store); everyone then builds a Gloo group over it.
// `prefix` (default none) scopes every key of this group, its subgroups and store calls, as
// PyTorch's "/worker/attempt_N" does, so a restarted group never reads the last attempt's keys.
// With a `secret` the store is torchlight's private one (auth_store.h): the host serves only
// clients that present it, and every rank presents it; without one it is PyTorch's TCPStore, so
// a store that torchrun or another launcher hosts can be joined. `device`: compat::gloo_group's.
TL_FN(pgInit) {
  TL_OP_BEGIN("init_process_group", 11);
  std::string host = string(c, 0, "host");
  int64_t port = i64(c, 1, "port"), world = i64(c, 2, "worldSize"), rank = i64(c, 3, "rank"), timeout_ms = i64(c, 4, "timeoutMs");
  bool is_server = boolean(c, 5, "isServer");
  int64_t rdv_ms = i64_or(c, 6, "rendezvousTimeoutMs", timeout_ms);
  std::string prefix = string_or(c, 7, "prefix", "");
  bool nccl = is_nccl(c, 8);
  std::string secret = string_or(c, 9, "secret", ""), device = string_or(c, 10, "device", "");
  if (nccl) compat::require_nccl();  // the error that names the fix, before any rendezvous
  if (world < 1 || rank < 0 || rank >= world) throw ArgError("init_process_group(): rank " + std::to_string(rank) + " is outside [0, " + std::to_string(world) + ")");
  if (port < 1 || port > 65535) throw ArgError("init_process_group(): port " + std::to_string(port) + " is not a TCP port");
  if (!secret.empty() && (secret.size() < 16 || secret.size() > 512)) throw ArgError("init_process_group(): the store's secret must have 16 to 512 characters");
  auto id = std::make_shared<uint32_t>(0);
  return run_async(
      c,
      [=]() {
        c10::intrusive_ptr<c10d::Store> store;
        std::shared_ptr<auth_store::Server> hosted;
        if (!secret.empty()) {
          if (is_server) {
            hosted = std::make_shared<auth_store::Server>(auth_store::is_loopback(host) ? "127.0.0.1" : "", static_cast<uint16_t>(port));
            hosted->allow("", secret);
          }
          store = c10::make_intrusive<auth_store::Client>(host, static_cast<uint16_t>(port), secret, std::chrono::milliseconds(rdv_ms));
        } else {
          store = compat::tcp_store(host, tcp_store_options(port, is_server, world, rdv_ms));
        }
        if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
        auto pg = make_group(nccl, prefixed, static_cast<int>(rank), static_cast<int>(world), std::chrono::milliseconds(timeout_ms), device);
        std::lock_guard<std::mutex> lock(reg::mutex);
        *id = reg::next_id();
        reg::groups[*id] = Group{store, pg, std::make_shared<std::mutex>(), nccl, device, hosted};
      },
      [id](napi_env env) {
        napi_value v;
        napi_create_uint32(env, *id, &v);
        return v;
      });
  TL_OP_END;
}

// storeConnect(host, port, secret, timeoutMs) -> Promise<id>: a client of a private store (as a
// process group's, without the group), for storeSet/storeGetNow/storeGet/storeAdd and pgDestroy
// (torchlight launch's agents rendezvous through it); retries until timeoutMs while the server is not up.
TL_FN(storeConnect) {
  TL_OP_BEGIN("store_connect", 4);
  std::string host = string(c, 0, "host"), secret = string(c, 2, "secret");
  int64_t port = i64(c, 1, "port"), timeout_ms = i64(c, 3, "timeoutMs");
  if (port < 1 || port > 65535) throw ArgError("store_connect(): port " + std::to_string(port) + " is not a TCP port");
  if (secret.size() < 16 || secret.size() > 512) throw ArgError("store_connect(): the store's secret must have 16 to 512 characters");
  auto id = std::make_shared<uint32_t>(0);
  return run_async(
      c,
      [=]() {
        c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<auth_store::Client>(host, static_cast<uint16_t>(port), secret, std::chrono::milliseconds(timeout_ms));
        std::lock_guard<std::mutex> lock(reg::mutex);
        *id = reg::next_id();
        reg::groups[*id] = Group{store, c10::intrusive_ptr<c10d::ProcessGroup>(), std::make_shared<std::mutex>(), false, "", nullptr};
      },
      [id](napi_env env) {
        napi_value v;
        napi_create_uint32(env, *id, &v);
        return v;
      });
  TL_OP_END;
}

// privateStoreServe(host, port) -> [id, port]: torchlight's private store (auth_store.h) in this
// process, on host ("127.0.0.1" for a run on one machine, "" for every interface), port 0 for a
// free one; it serves no one until privateStoreAllow gives it a namespace's secret.
TL_FN(privateStoreServe) {
  TL_OP_BEGIN("private_store_serve", 2);
  std::string host = string(c, 0, "host");
  int64_t port = i64(c, 1, "port");
  if (port < 0 || port > 65535) throw ArgError("private_store_serve(): port " + std::to_string(port) + " is not a TCP port (0 picks a free one)");
  auto server = std::make_shared<auth_store::Server>(host, static_cast<uint16_t>(port));
  uint32_t id;
  {
    std::lock_guard<std::mutex> lock(reg::mutex);
    id = reg::next_id();
    reg::private_served[id] = server;
  }
  napi_value arr, v;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_uint32(env, id, &v);
  napi_set_element(env, arr, 0, v);
  napi_create_uint32(env, server->port(), &v);
  napi_set_element(env, arr, 1, v);
  return arr;
  TL_OP_END;
}

std::shared_ptr<auth_store::Server> private_store(const Call& c) {
  std::lock_guard<std::mutex> lock(reg::mutex);
  auto it = reg::private_served.find(static_cast<uint32_t>(i64(c, 0, "store")));
  if (it == reg::private_served.end()) throw ArgError(std::string(c.op) + "(): the store was closed");
  return it->second;
}

// privateStoreAllow(id, namespace, secret): clients presenting `secret` get `namespace`'s keys.
TL_FN(privateStoreAllow) {
  TL_OP_BEGIN("private_store_allow", 3);
  private_store(c)->allow(string(c, 1, "namespace"), string(c, 2, "secret"));
  return undefined_value(c);
  TL_OP_END;
}

// privateStoreRevoke(id, namespace): its secret is forgotten, its clients cut off, its keys dropped.
TL_FN(privateStoreRevoke) {
  TL_OP_BEGIN("private_store_revoke", 2);
  private_store(c)->revoke(string(c, 1, "namespace"));
  return undefined_value(c);
  TL_OP_END;
}

// privateStoreStats(id) -> { connections, unauthenticated, refused, keys, bytes }
TL_FN(privateStoreStats) {
  TL_OP_BEGIN("private_store_stats", 1);
  auto s = private_store(c)->stats();
  napi_value o, v;
  napi_create_object(env, &o);
  for (auto [name, x] : {std::pair<const char*, int64_t>{"connections", s.connections}, {"unauthenticated", s.unauthenticated}, {"refused", s.refused}, {"keys", s.keys}, {"bytes", s.bytes}}) {
    napi_create_int64(env, x, &v);
    napi_set_named_property(env, o, name, v);
  }
  return o;
  TL_OP_END;
}

// privateStoreRead(id, namespace, keys[]) -> (string | null)[]: the host's own read of a namespace
TL_FN(privateStoreRead) {
  TL_OP_BEGIN("private_store_read", 3);
  std::string ns = string(c, 1, "namespace");
  std::vector<std::string> keys = string_list(c, 2, "keys");
  return strings_or_null(env, private_store(c)->read(ns, keys));
  TL_OP_END;
}

// privateStoreWrite(id, namespace, key, value): the host's own write (wakes no waiter)
TL_FN(privateStoreWrite) {
  TL_OP_BEGIN("private_store_write", 4);
  private_store(c)->write(string(c, 1, "namespace"), string(c, 2, "key"), string(c, 3, "value"));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(privateStoreClose) {
  TL_OP_BEGIN("private_store_close", 1);
  auto dead = take(reg::private_served, static_cast<uint32_t>(i64(c, 0, "store")));
  return undefined_value(c);  // the server's thread stops here, outside the lock
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
        auto store = compat::tcp_store(host, tcp_store_options(port, true, world, timeout_ms));
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
  std::string device = parent.device;
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
          pg = make_group(nccl, prefixed, sub_rank, static_cast<int>(ranks.size()), std::chrono::milliseconds(timeout_ms), device);
        }
        std::lock_guard<std::mutex> lock(reg::mutex);
        *id = reg::next_id();
        reg::groups[*id] = Group{store, pg, store_mutex, nccl, device, nullptr};
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

}  // namespace

const OpEntry distributed_ops[] = {
    {"pgInit", pgInit}, {"storeConnect", storeConnect}, {"storeServe", storeServe}, {"storeClose", storeClose},
    {"privateStoreServe", privateStoreServe}, {"privateStoreAllow", privateStoreAllow}, {"privateStoreRevoke", privateStoreRevoke},
    {"privateStoreStats", privateStoreStats}, {"privateStoreRead", privateStoreRead}, {"privateStoreWrite", privateStoreWrite}, {"privateStoreClose", privateStoreClose}, {"pgNew", pgNew}, {"pgDestroy", pgDestroy}, {"pgAllReduce", pgAllReduce},
    {"pgBroadcast", pgBroadcast}, {"pgAllGather", pgAllGather}, {"pgGather", pgGather}, {"pgScatter", pgScatter},
    {"pgBarrier", pgBarrier}, {"pgSend", pgSend}, {"pgRecv", pgRecv}, {nullptr, nullptr},
};

}  // namespace tl
