// The private store's server state and its poll() loop (Server::Impl), defined in a header of
// its own to keep the files short; only auth_store_server.cpp includes it. See auth_store.h.
#pragma once
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "auth_store_wire.h"

namespace tl {
namespace auth_store {
using namespace wire;  // NOLINT(google-build-using-namespace)

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

}  // namespace auth_store
}  // namespace tl
