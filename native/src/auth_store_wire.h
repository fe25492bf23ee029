// The private store's wire format and socket helpers, shared by its server and its client
// (auth_store_server.cpp, auth_store_client.cpp). Internal to the addon. See auth_store.h.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth_store.h"

namespace tl {
namespace auth_store {
namespace wire {

using Clock = std::chrono::steady_clock;
inline constexpr char kMagic[] = "torchlight-store/1";

enum Op : uint8_t { HELLO = 1, SET = 2, GET = 3, ADD = 4, CAS = 5, CHECK = 6, DEL = 7, NUMKEYS = 8, WAIT = 9, GETNOW = 10, SETGETNOW = 11 };
enum Status : uint8_t { OK = 0, TIMED_OUT = 1, ERR = 2 };

struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- encoding --------------------------------------------------------------------------------

struct Writer {
  std::string b = std::string(4, '\0');  // the length, filled by done()
  Writer& u8(uint8_t v) { b.push_back(static_cast<char>(v)); return *this; }
  Writer& u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); return *this; }
  Writer& i64(int64_t v) { auto u = static_cast<uint64_t>(v); for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((u >> (8 * i)) & 0xff)); return *this; }
  Writer& str(const void* p, size_t n) { u32(static_cast<uint32_t>(n)); b.append(static_cast<const char*>(p), n); return *this; }
  Writer& str(const std::string& s) { return str(s.data(), s.size()); }
  Writer& str(const std::vector<uint8_t>& s) { return str(s.data(), s.size()); }
  std::string done() {
    auto n = static_cast<uint32_t>(b.size() - 4);
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return std::move(b);
  }
};

inline uint32_t le32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

struct Reader {
  const char* p;
  size_t n, at = 0;
  Reader(const char* data, size_t size) : p(data), n(size) {}
  void need(size_t k) const {
    if (n - at < k) throw ProtocolError("truncated request");
  }
  uint8_t u8() { need(1); return static_cast<uint8_t>(p[at++]); }
  uint32_t u32() { need(4); uint32_t v = le32(p + at); at += 4; return v; }
  int64_t i64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[at + i])) << (8 * i);
    at += 8;
    return static_cast<int64_t>(v);
  }
  std::string str(size_t limit) {
    uint32_t k = u32();
    if (k > limit) throw ProtocolError("a field of " + std::to_string(k) + " bytes is over the limit of " + std::to_string(limit));
    need(k);
    std::string s(p + at, k);
    at += k;
    return s;
  }
  std::vector<std::string> keys() {
    uint32_t k = u32();
    if (k > n) throw ProtocolError("truncated request");
    std::vector<std::string> out;
    out.reserve(k);
    for (uint32_t i = 0; i < k; ++i) out.push_back(str(kMaxKey));
    return out;
  }
};

inline bool same_secret(const std::string& a, const std::string& b) {  // constant time in the contents
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

inline void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }
inline void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}


}  // namespace wire
}  // namespace auth_store
}  // namespace tl
