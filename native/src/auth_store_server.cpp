// See auth_store.h: the server's set-up and its public methods (the loop is auth_store_impl.h).
#include <netdb.h>

#include <cstring>

#include "auth_store_impl.h"

namespace tl {
namespace auth_store {

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

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

}  // namespace auth_store
}  // namespace tl
