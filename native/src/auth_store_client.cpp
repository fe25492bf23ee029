// See auth_store.h: the client, a c10d::Store over one authenticated connection.
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "auth_store_wire.h"

namespace tl {
namespace auth_store {
using namespace wire;  // NOLINT(google-build-using-namespace)

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

c10::intrusive_ptr<c10d::Store> Client::clone() { return c10::make_intrusive<Client>(host_, port_, token_, timeout_); }

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
