// The process-wide registry of c10d objects that JS refers to by id: process groups (with
// their store), store servers and DDP reducers. Process groups are per process in PyTorch too
// (torch.distributed's state), so this is the one process-wide table of the addon; entries
// are removed under the lock and released outside it (teardown is slow). No N-API here.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth_store.h"

namespace tl {
namespace c10d_groups {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  // A TCPStore client is one socket and is not safe for concurrent requests (1.13): every
  // store call of ours holds this lock, and waiting for a key is polling, never a blocking get.
  std::shared_ptr<std::mutex> store_mutex = std::make_shared<std::mutex>();
  bool nccl = false;  // its subgroups use the same backend
  std::string device;  // Gloo's device spec (compat::gloo_group), for its subgroups
  std::shared_ptr<auth_store::Server> hosted;  // the private store this rank hosts (rank 0 with a secret and no launcher's store)
};

extern std::mutex mutex;
extern std::unordered_map<uint32_t, Group> groups;
extern std::unordered_map<uint32_t, std::unique_ptr<c10d::Reducer>> reducers;
extern std::unordered_map<uint32_t, c10::intrusive_ptr<c10d::TCPStore>> served;  // storeServe's servers
extern std::unordered_map<uint32_t, std::shared_ptr<auth_store::Server>> private_served;  // privateStoreServe's

/** A new id (call under `mutex`). */
uint32_t next_id();

// Removes entry `id` of a table under the lock and hands it over, so the caller releases it
// (a process group, a store server, a Reducer: slow teardown) outside the lock.
template <typename Map>
typename Map::mapped_type take(Map& table, uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = table.find(id);
  if (it == table.end()) return {};
  typename Map::mapped_type v = std::move(it->second);
  table.erase(it);
  return v;
}

/** Group `id`, or nullptr when it was destroyed (the caller says what to do). */
Group* find(uint32_t id);

}  // namespace c10d_groups
}  // namespace tl
