// See c10d_groups.h.
#include "c10d_groups.h"

namespace tl {
namespace c10d_groups {

std::mutex mutex;
std::unordered_map<uint32_t, Group> groups;
std::unordered_map<uint32_t, std::unique_ptr<c10d::Reducer>> reducers;
std::unordered_map<uint32_t, c10::intrusive_ptr<c10d::TCPStore>> served;
std::unordered_map<uint32_t, std::shared_ptr<auth_store::Server>> private_served;
namespace {
uint32_t g_next_id = 1;
}

uint32_t next_id() { return g_next_id++; }

Group* find(uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = groups.find(id);
  return it == groups.end() ? nullptr : &it->second;
}

}  // namespace c10d_groups
}  // namespace tl
