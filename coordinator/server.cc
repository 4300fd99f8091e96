#include "coordinator/server.h"

#include <chrono>

#include "common/base/names.h"
#include "common/privacy/random.h"
#include "coordinator/admin.h"
#include "coordinator/site_session.h"
#include "protocol/codec.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator {
namespace {

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorConfig& config, Storage& storage, ServerOptions options) {
  for (const auto& [site, budgets] : config.limits) {
    for (const auto& [dataset, limit] : budgets)
      RETURN_IF_ERROR(storage.SetLimit(site, dataset, limit));
  }
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer(config, storage, options));
  ASSIGN_OR_RETURN(auto context, net::MakeTlsContext(config.tls_files(), net::Role::kServer));
  ASSIGN_OR_RETURN(const auto site_address, net::ParseHostPort(config.listen));
  ASSIGN_OR_RETURN(const auto admin_address, net::ParseHostPort(config.admin_listen));
  CoordinatorServer* self = server.get();
  net::ListenerLimits limits;
  limits.max_connections = static_cast<size_t>(config.max_connections);
  limits.max_connections_per_address = static_cast<size_t>(config.max_connections_per_address);
  ASSIGN_OR_RETURN(
      server->site_listener_,
      net::ListenTls(site_address.first, site_address.second, context, options.handshake_deadline,
                     limits, [self](net::PeerConnection& c) { self->ServeSite(c); }));
  ASSIGN_OR_RETURN(
      server->admin_listener_,
      net::ListenTls(admin_address.first, admin_address.second, context, options.handshake_deadline,
                     limits, [self](net::PeerConnection& c) { self->ServeAdmin(c); }));
  server->site_listener_->Start();
  server->admin_listener_->Start();
  spdlog::info("coordinator serving sites on port {} and admins on port {}", server->site_port(),
               server->admin_port());
  return server;
}

CoordinatorServer::~CoordinatorServer() { Stop(); }

void CoordinatorServer::Stop() {
  if (site_listener_) site_listener_->Stop();
  if (admin_listener_) admin_listener_->Stop();
}

std::multiset<std::string> CoordinatorServer::ConnectedSites() {
  std::lock_guard lock(mutex_);
  return connected_;
}

void CoordinatorServer::ServeSite(net::PeerConnection& connection) {
  const net::PeerIdentity& peer = connection.peer();
  if (peer.organizational_unit != "site" || !base::IsSafeName(peer.common_name)) {
    spdlog::warn("refused {} on the site API: certificate role '{}' name '{}' is not a site",
                 connection.remote_address(), peer.organizational_unit, peer.common_name);
    return;
  }
  const std::string site = peer.common_name;
  // Listed as connected for exactly as long as this function runs, however it ends.
  struct ConnectedEntry {
    CoordinatorServer& server;
    std::multiset<std::string>::iterator entry;
    ~ConnectedEntry() {
      std::lock_guard lock(server.mutex_);
      server.connected_.erase(entry);
    }
  };
  const ConnectedEntry connected = [&] {
    std::lock_guard lock(mutex_);
    return ConnectedEntry{*this, connected_.insert(site)};
  }();
  const std::unique_ptr<privacy::RandomSource> canary_random =
      options_.canary_random ? options_.canary_random() : std::make_unique<privacy::SecureRandom>();
  SiteSession session(site, storage_, config_, options_.clock ? options_.clock : NowUnix,
                      *canary_random);
  session.set_certificate(connection.peer().certificate_serial,
                          connection.peer().certificate_not_after_unix);
  for (;;) {
    auto frame = connection.ReadFrame(protocol::kMaxMessageBytes, options_.idle_deadline);
    if (!frame.ok()) {
      if (frame.status().code() == absl::StatusCode::kInvalidArgument) {
        spdlog::warn("site {}: {}; closing", site, std::string(frame.status().message()));
      }
      break;
    }
    auto request = protocol::DecodeSiteRequest(*frame);
    if (!request.ok()) {
      spdlog::warn("site {}: {}; closing", site, std::string(request.status().message()));
      (void)connection.WriteFrame(
          protocol::EncodeSiteResponse(protocol::ErrorFromStatus(request.status())),
          options_.write_deadline);
      break;
    }
    const protocol::SiteResponse response = session.Handle(*request);
    if (!connection.WriteFrame(protocol::EncodeSiteResponse(response), options_.write_deadline)
             .ok())
      break;
  }
}

void CoordinatorServer::ServeAdmin(net::PeerConnection& connection) {
  if (connection.peer().organizational_unit != "admin") {
    spdlog::warn("refused {} on the admin API: certificate role '{}' is not admin",
                 connection.remote_address(), connection.peer().organizational_unit);
    return;
  }
  for (;;) {
    auto frame = connection.ReadFrame(protocol::kMaxMessageBytes, options_.idle_deadline);
    if (!frame.ok()) break;
    auto request = protocol::DecodeAdminRequest(*frame);
    protocol::AdminResponse response =
        request.ok() ? HandleAdminRequest(*request, storage_, ConnectedSites())
                     : protocol::ErrorFromStatus(request.status());
    if (!connection.WriteFrame(protocol::EncodeAdminResponse(response), options_.write_deadline)
             .ok())
      break;
    if (!request.ok()) break;
  }
}

}  // namespace fedsyn::coordinator
