// The coordinator's network front: a site listener and an admin listener (mutual TLS), one
// thread and one SiteSession per connection. All decisions live in SiteSession and
// HandleAdminRequest; this file only moves frames and enforces who may use which API.
#ifndef FEDSYN_COORDINATOR_SERVER_H_
#define FEDSYN_COORDINATOR_SERVER_H_

#include <memory>
#include <mutex>
#include <set>

#include "common/net/tls.h"
#include "common/privacy/random.h"
#include "coordinator/federation.h"
#include "coordinator/site_session.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator {

struct ServerOptions {
  // A session with no request for this long is closed (sites send heartbeats meanwhile).
  net::Deadline idle_deadline = std::chrono::seconds(120);
  net::Deadline handshake_deadline = std::chrono::seconds(10);
  net::Deadline write_deadline = std::chrono::seconds(30);
  // What each site session reads the time from (unix seconds; empty: the system clock) and
  // draws its canaries from (empty: a SecureRandom per session, so no site can predict them).
  // Tests give a fake clock; the canaries' generator stays the secure one outside tests.
  SiteSession::Clock clock;
  std::function<std::unique_ptr<privacy::RandomSource>()> canary_random;
};

class CoordinatorServer {
 public:
  // Applies the config's budget limits to storage, binds both listeners and starts serving.
  // Keeps references: `config` and `storage` must outlive the server.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const CoordinatorConfig& config,
                                                                  Storage& storage,
                                                                  ServerOptions options = {});
  ~CoordinatorServer();
  void Stop();

  uint16_t site_port() const { return site_listener_->port(); }
  uint16_t admin_port() const { return admin_listener_->port(); }
  std::multiset<std::string> ConnectedSites();

 private:
  CoordinatorServer(const CoordinatorConfig& config, Storage& storage, ServerOptions options)
      : config_(config), storage_(storage), options_(options) {}
  void ServeSite(net::PeerConnection& connection);
  void ServeAdmin(net::PeerConnection& connection);

  const CoordinatorConfig& config_;
  Storage& storage_;
  ServerOptions options_;
  std::unique_ptr<net::FrameListener> site_listener_;
  std::unique_ptr<net::FrameListener> admin_listener_;
  std::mutex mutex_;
  std::multiset<std::string> connected_;
};

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_SERVER_H_
