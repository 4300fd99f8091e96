// Request handling for one authenticated site connection, as a function from request to
// response: no sockets, so tests drive it directly. The site id comes from the peer's TLS
// certificate (the transport sets it); no message field can change it.
//
// Order enforced: the first request must be a Hello with our protocol version. Everything a
// site sends is validated before storage is touched: rows are parsed under the federation
// schema (NaN, Inf, unknown categories, out-of-range values refused), commits are checked
// against the stored chunks' SHA-256 and row count. A refused request stores nothing and
// charges nothing.
#ifndef FEDSYN_COORDINATOR_SITE_SESSION_H_
#define FEDSYN_COORDINATOR_SITE_SESSION_H_

#include <functional>
#include <string>

#include "coordinator/federation.h"
#include "coordinator/storage.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator {

class SiteSession {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  SiteSession(std::string site_id, Storage& storage, const CoordinatorConfig& config, Clock clock);

  protocol::SiteResponse Handle(const protocol::SiteRequest& request);
  const std::string& site_id() const { return site_id_; }

 private:
  protocol::SiteResponse OnHello(const protocol::Hello& hello);
  protocol::SiteResponse OnReserve(const protocol::Reserve& reserve);
  protocol::SiteResponse OnChunk(const protocol::UploadChunk& chunk);
  protocol::SiteResponse OnCommit(const protocol::Commit& commit);
  protocol::SiteResponse OnReleaseState(const protocol::ReleaseStateQuery& query);

  std::string site_id_;
  Storage& storage_;
  const CoordinatorConfig& config_;
  Clock clock_;
  bool greeted_ = false;
};

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_SITE_SESSION_H_
