// See auth_store.h.
#include "auth_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace tl {
namespace auth_store {
namespace {

using Clock = std::chrono::steady_clock;
const char kMagic[] = "torchlight-store/1";

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

uint32_t le32(const char* p) {
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

bool same_secret(const std::string& a, const std::string& b) {  // constant time in the contents
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }
void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// ---- the server ------------------------------------------------------------------------------

struct Server::Impl {
  struct Conn {
    int fd;
    bool authed = false;
    std::string ns;
    std::string in, out;
    Clock::time_point accepted = Clock::now();
    bool closing = false;  // close once `out` is flushed
    bool dead = false;
    // a GET or WAIT waiting for its keys
    bool parked = false;
    uint8_t park_op = 0;
    std::vector<std::string> park_keys;
    std::optional<Clock::time_point> park_deadline;
  };

  int listen_fd = -1;
  int wake[2] = {-1, -1};
  uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> stop{false};

  mutable std::mutex mu;  // guards tokens, revoked, stats
  std::vector<std::pair<std::string, std::string>> tokens;  // (ns, token)
  std::vector<std::string> revoked;
  Stats stats;

  // written by the loop's thread under data_mu (read and written by the host under it too)
  mutable std::mutex data_mu;
  std::unordered_map<std::string, std::vector<uint8_t>> data;  // ns + '\n' + key
  std::unordered_map<std::string, int64_t> ns_bytes, ns_keys;
  std::list<Conn> conns;

  static std::string full(const std::string& ns, const std::string& key) { return ns + '\n' + key; }

  void poke() {
    char c = 1;
    (void)!::write(wake[1], &c, 1);
  }

  void count(int64_t Stats::*field, int64_t d) {
    std::lock_guard<std::mutex> lock(mu);
    stats.*field += d;
  }

  void reply(Conn& c, Writer w) { c.out += w.done(); }
  void fail(Conn& c, const std::string& message, bool close) {
    reply(c, std::move(Writer().u8(ERR).str(message)));
    if (close) {
      c.closing = true;
      count(&Stats::refused, 1);
    }
  }

  void put(const std::string& ns, const std::string& key, std::vector<uint8_t> value) {
    std::string k = full(ns, key);
    auto it = data.find(k);
    int64_t delta = static_cast<int64_t>(value.size()) - (it == data.end() ? -static_cast<int64_t>(k.size()) : static_cast<int64_t>(it->second.size()));
    if (it == data.end()) {
      ns_keys[ns] += 1;
      count(&Stats::keys, 1);
      data.emplace(std::move(k), std::move(value));
    } else {
      it->second = std::move(value);
    }
    ns_bytes[ns] += delta;
    count(&Stats::bytes, delta);
  }
  bool erase(const std::string& ns, const std::string& key) {
    auto it = data.find(full(ns, key));
    if (it == data.end()) return false;
    int64_t size = static_cast<int64_t>(it->first.size() + it->second.size());
    data.erase(it);
    ns_keys[ns] -= 1;
    ns_bytes[ns] -= size;
    count(&Stats::keys, -1);
    count(&Stats::bytes, -size);
    return true;
  }
  const std::vector<uint8_t>* find(const std::string& ns, const std::string& key) const {
    auto it = data.find(full(ns, key));
    return it == data.end() ? nullptr : &it->second;
  }
  bool room_for(Conn& c, size_t bytes) {
    if (ns_bytes[c.ns] + static_cast<int64_t>(bytes) <= kMaxNamespaceBytes) return true;
    fail(c, "the store holds " + std::to_string(ns_bytes[c.ns]) + " bytes for this run and takes at most " + std::to_string(kMaxNamespaceBytes) +
                "; store less (the rendezvous store is for small values)", false);
    return false;
  }

  // Answers a parked GET/WAIT if its keys exist (or its deadline passed); true when answered.
  bool try_unpark(Conn& c, Clock::time_point now) {
    bool ready = std::all_of(c.park_keys.begin(), c.park_keys.end(), [&](const std::string& k) { return find(c.ns, k) != nullptr; });
    if (ready) {
      Writer w;
      w.u8(OK);
      if (c.park_op == GET) w.str(*find(c.ns, c.park_keys[0]));
      reply(c, std::move(w));
    } else if (c.park_deadline && now >= *c.park_deadline) {
      reply(c, std::move(Writer().u8(TIMED_OUT)));
    } else {
      return false;
    }
    c.parked = false;
    c.park_keys.clear();
    return true;
  }

  void park(Conn& c, uint8_t op, std::vector<std::string> keys, int64_t timeout_ms) {
    c.parked = true;
    c.park_op = op;
    c.park_keys = std::move(keys);
    c.park_deadline = timeout_ms > 0 ? std::optional<Clock::time_point>(Clock::now() + std::chrono::milliseconds(timeout_ms)) : std::nullopt;
    try_unpark(c, Clock::now());
  }

  void hello(Conn& c, Reader& r) {
    if (r.u8() != HELLO) return fail(c, "authenticate first: this store serves only the run's own processes", true);
    std::string magic = r.str(64), token = r.str(512);
    if (magic != kMagic) return fail(c, "not a torchlight store client (expected protocol " + std::string(kMagic) + ")", true);
    std::optional<std::string> ns;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [n, t] : tokens)
        if (same_secret(t, token)) ns = n;  // no early exit: the time does not depend on which
    }
    if (!ns) return fail(c, "wrong secret: this store serves only the processes of the run (and attempt) that started it", true);
    c.authed = true;
    c.ns = *ns;
    count(&Stats::unauthenticated, -1);
    reply(c, std::move(Writer().u8(OK)));
  }

  // One request of an authenticated connection.
  void handle(Conn& c, Reader& r) {
    uint8_t op = r.u8();
    switch (op) {
      case SET: {
        std::string key = r.str(kMaxKey), value = r.str(kMaxValue);
        if (!room_for(c, key.size() + value.size())) return;
        put(c.ns, key, std::vector<uint8_t>(value.begin(), value.end()));
        return reply(c, std::move(Writer().u8(OK)));
      }
      case GET: {
        int64_t timeout_ms = r.i64();
        return park(c, GET, {r.str(kMaxKey)}, timeout_ms);
      }
      case WAIT: {
        int64_t timeout_ms = r.i64();
        return park(c, WAIT, r.keys(), timeout_ms);
      }
      case ADD: {
        std::string key = r.str(kMaxKey);
        int64_t delta = r.i64(), now = 0;
        if (auto* v = find(c.ns, key)) {
          std::string s(v->begin(), v->end());
          char* end = nullptr;
          errno = 0;
          long long x = std::strtoll(s.c_str(), &end, 10);
          if (s.empty() || errno || *end) return fail(c, "add(): key " + key + " holds a value that is not a number", false);
          now = x;
        }
        if (!room_for(c, key.size() + 24)) return;
        now += delta;
        std::string s = std::to_string(now);
        put(c.ns, key, std::vector<uint8_t>(s.begin(), s.end()));
        return reply(c, std::move(Writer().u8(OK).i64(now)));
      }
      case CAS: {
        std::string key = r.str(kMaxKey), expected = r.str(kMaxValue), desired = r.str(kMaxValue);
        const std::vector<uint8_t>* v = find(c.ns, key);
        std::vector<uint8_t> want(desired.begin(), desired.end());
        if (v == nullptr) {  // as TCPStore: an absent key is set only when the expected value is empty
          if (!expected.empty()) return reply(c, std::move(Writer().u8(OK).str(expected)));
          if (!room_for(c, key.size() + want.size())) return;
          put(c.ns, key, want);
          return reply(c, std::move(Writer().u8(OK).str(want)));
        }
        if (std::string(v->begin(), v->end()) == expected) {
          if (!room_for(c, want.size())) return;
          put(c.ns, key, want);
        }
        return reply(c, std::move(Writer().u8(OK).str(*find(c.ns, key))));
      }
      case CHECK: {
        auto keys = r.keys();
        bool all = std::all_of(keys.begin(), keys.end(), [&](const std::string& k) { return find(c.ns, k) != nullptr; });
        return reply(c, std::move(Writer().u8(OK).u8(all ? 1 : 0)));
      }
      case SETGETNOW:
      case GETNOW: {
        if (op == SETGETNOW) {
          std::string key = r.str(kMaxKey), value = r.str(kMaxValue);
          if (!room_for(c, key.size() + value.size())) return;
          put(c.ns, key, std::vector<uint8_t>(value.begin(), value.end()));
        }
        auto keys = r.keys();
        Writer w;
        w.u8(OK).u32(static_cast<uint32_t>(keys.size()));
        for (auto& k : keys) {
          const std::vector<uint8_t>* v = find(c.ns, k);
          w.u8(v ? 1 : 0);
          if (v) w.str(*v);
        }
        return reply(c, std::move(w));
      }
      case DEL: {
        bool gone = erase(c.ns, r.str(kMaxKey));
        return reply(c, std::move(Writer().u8(OK).u8(gone ? 1 : 0)));
      }
      case NUMKEYS:
        return reply(c, std::move(Writer().u8(OK).i64(ns_keys[c.ns])));
      default:
        return fail(c, "unknown request " + std::to_string(op), true);
    }
  }

  // Handles the complete frames in c.in (none while a GET/WAIT is parked).
  void frames(Conn& c) {
    size_t at = 0;
    while (!c.parked && !c.closing && c.in.size() - at >= 4) {
      uint32_t len = le32(c.in.data() + at);
      size_t limit = c.authed ? kMaxFrame : kMaxHello;
      if (len > limit) {
        fail(c, "a request of " + std::to_string(len) + " bytes was refused: the store takes at most " + std::to_string(limit) + " bytes per request" +
                    (c.authed ? "" : " before the client authenticates"), true);
        break;
      }
      if (c.in.size() - at - 4 < len) break;
      Reader r(c.in.data() + at + 4, len);
      at += 4 + len;
      try {
        if (!c.authed) hello(c, r);
        else handle(c, r);
      } catch (const ProtocolError& e) {
        fail(c, std::string("malformed request: ") + e.what(), true);
      }
    }
    c.in.erase(0, at);
  }

  void flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t k = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (k > 0) {
        c.out.erase(0, static_cast<size_t>(k));
        continue;
      }
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (k < 0 && errno == EINTR) continue;
      c.dead = true;
      return;
    }
    if (c.closing) c.dead = true;
  }

  void read_from(Conn& c) {
    char buf[65536];
    for (;;) {
      // never hold more than one request (and the next frame's header) for a connection
      size_t limit = (c.authed ? kMaxFrame : kMaxHello) + 8;
      if (c.in.size() >= limit) return;
      ssize_t k = ::recv(c.fd, buf, std::min(sizeof buf, limit - c.in.size()), 0);
      if (k > 0) {
        c.in.append(buf, static_cast<size_t>(k));
        std::lock_guard<std::mutex> lock(data_mu);
        frames(c);
        if (c.closing) return;
        continue;
      }
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (k < 0 && errno == EINTR) continue;
      c.dead = true;  // closed by the peer, or reset
      return;
    }
  }

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      set_nodelay(fd);
      size_t waiting = static_cast<size_t>(std::count_if(conns.begin(), conns.end(), [](const Conn& c) { return !c.authed && !c.dead; }));
      if (waiting >= kMaxUnauthenticated) {  // a flood of silent connections: the oldest goes
        for (auto& c : conns)
          if (!c.authed && !c.dead) {
            c.dead = true;
            count(&Stats::refused, 1);
            break;
          }
      }
      conns.push_back(Conn{fd});
      count(&Stats::connections, 1);
      count(&Stats::unauthenticated, 1);
    }
  }

  void apply_revocations() {
    std::vector<std::string> gone;
    {
      std::lock_guard<std::mutex> lock(mu);
      gone.swap(revoked);
    }
    std::lock_guard<std::mutex> lock(data_mu);
    for (auto& ns : gone) {
      for (auto& c : conns)
        if (c.authed && c.ns == ns) c.dead = true;
      for (auto it = data.begin(); it != data.end();) {
        if (it->first.compare(0, ns.size() + 1, ns + '\n') == 0) {
          count(&Stats::keys, -1);
          count(&Stats::bytes, -static_cast<int64_t>(it->first.size() + it->second.size()));
          it = data.erase(it);
        } else {
          ++it;
        }
      }
      ns_bytes.erase(ns);
      ns_keys.erase(ns);
    }
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<Conn*> who;
    while (!stop.load()) {
      fds.clear();
      who.clear();
      fds.push_back({wake[0], POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      auto now = Clock::now();
      auto next = now + std::chrono::seconds(1);
      for (auto& c : conns) {
        short ev = POLLIN;
        if (!c.out.empty()) ev |= POLLOUT;
        fds.push_back({c.fd, ev, 0});
        who.push_back(&c);
        if (!c.authed) next = std::min(next, c.accepted + kHelloTimeout);
        if (c.parked && c.park_deadline) next = std::min(next, *c.park_deadline);
      }
      int wait_ms = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1));
      int n = ::poll(fds.data(), fds.size(), wait_ms);
      if (n < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        char buf[64];
        while (::read(wake[0], buf, sizeof buf) > 0) {
        }
        apply_revocations();
      }
      if (fds[1].revents & POLLIN) accept_all();
      bool changed = false;
      for (size_t i = 0; i < who.size(); ++i) {
        Conn& c = *who[i];
        short re = fds[i + 2].revents;
        if (c.dead) continue;
        if (re & POLLIN) {
          read_from(c);
          changed = true;
        } else if (re & (POLLERR | POLLHUP | POLLNVAL)) {
          c.dead = true;
        }
      }
      now = Clock::now();
      for (auto& c : conns) {
        if (c.dead) continue;
        if (!c.authed && now >= c.accepted + kHelloTimeout && !c.closing) {  // never said who it is
          c.dead = true;
          count(&Stats::refused, 1);
          continue;
        }
        // a write may have made a parked client's keys exist; an answered one may have more frames
        if (c.parked && (changed || (c.park_deadline && now >= *c.park_deadline))) {
          std::lock_guard<std::mutex> lock(data_mu);
          if (try_unpark(c, now)) frames(c);
        }
        if (!c.out.empty()) flush(c);
      }
      for (auto it = conns.begin(); it != conns.end();) {
        if (it->dead) {
          ::close(it->fd);
          count(&Stats::connections, -1);
          if (!it->authed) count(&Stats::unauthenticated, -1);
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : conns) ::close(c.fd);
    conns.clear();
  }
};

Server::Server(const std::string& host, uint16_t port) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("store: cannot resolve " + host + ": " + gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      s.listen_fd = fd;
      break;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  if (s.listen_fd < 0) throw std::runtime_error("store: cannot listen on " + host + ":" + service + ": " + last);
  set_nonblocking(s.listen_fd);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  s.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (pipe2(s.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    ::close(s.listen_fd);
    throw std::runtime_error(std::string("store: pipe: ") + std::strerror(errno));
  }
  s.thread = std::thread([&s]() { s.loop(); });
}

Server::~Server() {
  impl_->stop.store(true);
  impl_->poke();
  if (impl_->thread.joinable()) impl_->thread.join();
  ::close(impl_->listen_fd);
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

uint16_t Server::port() const { return impl_->port; }

void Server::allow(const std::string& ns, const std::string& token) {
  if (token.size() < 16 || token.size() > 512) throw std::invalid_argument("store: a secret must have 16 to 512 bytes");
  if (ns.find('\n') != std::string::npos) throw std::invalid_argument("store: a namespace cannot hold a newline");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& t = impl_->tokens;
  t.erase(std::remove_if(t.begin(), t.end(), [&](auto& p) { return p.first == ns; }), t.end());
  t.emplace_back(ns, token);
}

void Server::revoke(const std::string& ns) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& t = impl_->tokens;
    t.erase(std::remove_if(t.begin(), t.end(), [&](auto& p) { return p.first == ns; }), t.end());
    impl_->revoked.push_back(ns);
  }
  impl_->poke();
}

std::vector<std::optional<std::string>> Server::read(const std::string& ns, const std::vector<std::string>& keys) const {
  std::lock_guard<std::mutex> lock(impl_->data_mu);
  std::vector<std::optional<std::string>> out;
  for (auto& k : keys) {
    auto* v = impl_->find(ns, k);
    out.push_back(v ? std::optional<std::string>(std::string(v->begin(), v->end())) : std::nullopt);
  }
  return out;
}

void Server::write(const std::string& ns, const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(impl_->data_mu);
  impl_->put(ns, key, std::vector<uint8_t>(value.begin(), value.end()));
}

Stats Server::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

// ---- the client ------------------------------------------------------------------------------

namespace {
[[noreturn]] void store_error(const std::string& m) { throw std::runtime_error(m); }

// Waits until fd is readable (or writable) or the deadline passes; false on timeout.
bool ready(int fd, short ev, std::optional<Clock::time_point> deadline) {
  for (;;) {
    int ms = -1;
    if (deadline) ms = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count()));
    pollfd p{fd, ev, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

void send_all(int fd, const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    ssize_t k = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
    if (k > 0) {
      at += static_cast<size_t>(k);
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else {
      throw std::runtime_error(std::string("send: ") + (k < 0 ? std::strerror(errno) : "connection closed"));
    }
  }
}

void recv_exact(int fd, char* p, size_t n, std::optional<Clock::time_point> deadline) {
  size_t at = 0;
  while (at < n) {
    if (!ready(fd, POLLIN, deadline)) throw std::runtime_error("no answer in time");
    ssize_t k = ::recv(fd, p + at, n - at, 0);
    if (k > 0) at += static_cast<size_t>(k);
    else if (k < 0 && errno == EINTR) continue;
    else throw std::runtime_error(k == 0 ? "the server closed the connection" : std::string("recv: ") + std::strerror(errno));
  }
}

std::string recv_frame(int fd, std::optional<Clock::time_point> deadline) {
  char head[4];
  recv_exact(fd, head, 4, deadline);
  uint32_t len = le32(head);
  if (len > kMaxFrame + 16) throw std::runtime_error("the server sent a frame of " + std::to_string(len) + " bytes");
  std::string body(len, '\0');
  recv_exact(fd, body.data(), len, deadline);
  return body;
}
}  // namespace

Client::Client(std::string host, uint16_t port, std::string token, std::chrono::milliseconds timeout)
    : c10d::Store(timeout), host_(std::move(host)), port_(port), token_(std::move(token)) {
  std::lock_guard<std::mutex> lock(mutex_);
  connect_locked(Clock::now() + timeout);
}

Client::~Client() { close_locked(); }

std::string Client::where() const { return "the rendezvous store at " + host_ + ":" + std::to_string(port_); }

void Client::close_locked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Client::connect_locked(Clock::time_point deadline) {
  std::string last = "no address";
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    std::string service = std::to_string(port_);
    int rc = getaddrinfo(host_.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
      last = gai_strerror(rc);
    } else {
      for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          set_nodelay(fd);
          fd_ = fd;
        } else {
          last = std::strerror(errno);
          ::close(fd);
        }
      }
      freeaddrinfo(res);
    }
    if (fd_ >= 0) break;
    if (Clock::now() + pause > deadline) store_error("could not reach " + where() + " in time: " + last);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
  std::string reply;
  try {
    send_all(fd_, Writer().u8(HELLO).str(kMagic, sizeof kMagic - 1).str(token_).done());
    reply = recv_frame(fd_, Clock::now() + std::chrono::seconds(30));
  } catch (const std::exception& e) {
    close_locked();
    store_error("could not authenticate to " + where() + ": " + e.what());
  }
  Reader r(reply.data(), reply.size());
  if (r.u8() != OK) {
    close_locked();
    std::string why;
    try { why = r.str(4096); } catch (...) { why = "refused"; }
    store_error(where() + " refused this process: " + why);
  }
}

std::string Client::request(const std::string& frame, std::chrono::milliseconds wait) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) connect_locked(Clock::now() + timeout_);
  // the server answers a GET/WAIT at its deadline; the grace covers a server that went silent
  std::optional<Clock::time_point> deadline;
  if (wait.count() > 0) deadline = Clock::now() + wait + std::chrono::seconds(30);
  std::string body;
  try {
    send_all(fd_, frame);
    body = recv_frame(fd_, deadline);
  } catch (const std::exception& e) {
    close_locked();
    store_error(where() + " went away: " + e.what());
  }
  if (body.empty()) store_error(where() + " sent an empty answer");
  switch (static_cast<uint8_t>(body[0])) {
    case OK:
      return body.substr(1);
    case TIMED_OUT:
      store_error("Timed out after " + std::to_string(wait.count()) + " ms waiting for keys in " + where());
    default: {
      Reader r(body.data() + 1, body.size() - 1);
      std::string why;
      try { why = r.str(1 << 20); } catch (...) { why = "(unreadable)"; }
      store_error(where() + ": " + why);
    }
  }
}

void Client::set(const std::string& key, const std::vector<uint8_t>& value) {
  if (value.size() > kMaxValue) store_error("store.set(" + key + "): a value of " + std::to_string(value.size()) + " bytes is over the store's limit of " + std::to_string(kMaxValue));
  request(Writer().u8(SET).str(key).str(value).done(), std::chrono::milliseconds(0));
}

std::vector<uint8_t> Client::compareSet(const std::string& key, const std::vector<uint8_t>& expected, const std::vector<uint8_t>& desired) {
  std::string b = request(Writer().u8(CAS).str(key).str(expected).str(desired).done(), std::chrono::milliseconds(0));
  Reader r(b.data(), b.size());
  std::string v = r.str(kMaxValue);
  return std::vector<uint8_t>(v.begin(), v.end());
}

std::vector<uint8_t> Client::get(const std::string& key) {
  std::string b = request(Writer().u8(GET).i64(timeout_.count()).str(key).done(), timeout_);
  Reader r(b.data(), b.size());
  std::string v = r.str(kMaxValue);
  return std::vector<uint8_t>(v.begin(), v.end());
}

int64_t Client::add(const std::string& key, int64_t value) {
  std::string b = request(Writer().u8(ADD).str(key).i64(value).done(), std::chrono::milliseconds(0));
  Reader r(b.data(), b.size());
  return r.i64();
}

bool Client::deleteKey(const std::string& key) {
  std::string b = request(Writer().u8(DEL).str(key).done(), std::chrono::milliseconds(0));
  return !b.empty() && b[0] == 1;
}

namespace {
Writer& keys_of(Writer& w, const std::vector<std::string>& keys) {
  w.u32(static_cast<uint32_t>(keys.size()));
  for (auto& k : keys) w.str(k);
  return w;
}
}  // namespace

bool Client::check(const std::vector<std::string>& keys) {
  Writer w;
  w.u8(CHECK);
  std::string b = request(keys_of(w, keys).done(), std::chrono::milliseconds(0));
  return !b.empty() && b[0] == 1;
}

int64_t Client::getNumKeys() {
  std::string b = request(Writer().u8(NUMKEYS).done(), std::chrono::milliseconds(0));
  Reader r(b.data(), b.size());
  return r.i64();
}

void Client::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void Client::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  Writer w;
  w.u8(WAIT).i64(timeout.count());
  request(keys_of(w, keys).done(), timeout);
}

std::vector<std::optional<std::vector<uint8_t>>> Client::get_now(const std::vector<std::string>& keys) {
  Writer w;
  w.u8(GETNOW);
  return values_of(request(keys_of(w, keys).done(), std::chrono::milliseconds(0)));
}

std::vector<std::optional<std::vector<uint8_t>>> Client::set_get_now(const std::string& key, const std::vector<uint8_t>& value, const std::vector<std::string>& keys) {
  if (value.size() > kMaxValue) store_error("store.set(" + key + "): a value of " + std::to_string(value.size()) + " bytes is over the store's limit of " + std::to_string(kMaxValue));
  Writer w;
  w.u8(SETGETNOW).str(key).str(value);
  return values_of(request(keys_of(w, keys).done(), std::chrono::milliseconds(0)));
}

std::vector<std::optional<std::vector<uint8_t>>> Client::values_of(const std::string& b) {
  Reader r(b.data(), b.size());
  uint32_t n = r.u32();
  std::vector<std::optional<std::vector<uint8_t>>> out;
  for (uint32_t i = 0; i < n; ++i) {
    if (r.u8()) {
      std::string v = r.str(kMaxValue);
      out.emplace_back(std::vector<uint8_t>(v.begin(), v.end()));
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

}  // namespace auth_store
}  // namespace tl
