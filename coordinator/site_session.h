// Request handling for one authenticated site connection, as a function from request to
// response: no sockets, so tests drive it directly. The site id comes from the peer's TLS
// certificate (the transport sets it); no message field can change it.
//
// Order enforced: the first request must be a Hello with our protocol version. Everything a
// site sends is validated before storage is touched: rows are parsed under the federation
// schema (NaN, Inf, unknown categories, out-of-range values refused), commits are checked
// against the stored chunks' SHA-256 and row count. A refused request stores nothing and
// charges nothing. Codes mode: the published decoder must arrive (and pass
// CheckPublishedDecoder) before any chunk, and each chunk row must hold exactly latent_dim
// finite numbers. Canary audits: the canaries are issued before any chunk, and no chunk is taken
// until the site has committed to its inclusion bits; the reveal comes after the commit.
#ifndef FEDSYN_COORDINATOR_SITE_SESSION_H_
#define FEDSYN_COORDINATOR_SITE_SESSION_H_

#include <functional>
#include <map>
#include <string>

#include "common/privacy/random.h"
#include "coordinator/decoder.h"
#include "coordinator/federation.h"
#include "coordinator/storage.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator {

class SiteSession {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // `canary_random` draws the canaries of audited releases (the server passes the secure
  // generator: a site must not predict them); one session, one thread.
  SiteSession(std::string site_id, Storage& storage, const CoordinatorConfig& config, Clock clock,
              privacy::RandomSource& canary_random);

  protocol::SiteResponse Handle(const protocol::SiteRequest& request);
  const std::string& site_id() const { return site_id_; }
  // The certificate the site connected with, recorded with each hello and heartbeat.
  void set_certificate(std::string serial, int64_t not_after_unix) {
    certificate_serial_ = std::move(serial);
    certificate_not_after_unix_ = not_after_unix;
  }

 private:
  protocol::SiteResponse Dispatch(const protocol::SiteRequest& request);
  protocol::SiteResponse OnHello(const protocol::Hello& hello);
  protocol::SiteResponse OnReserve(const protocol::Reserve& reserve);
  protocol::SiteResponse OnChunk(const protocol::UploadChunk& chunk);
  protocol::SiteResponse OnCommit(const protocol::Commit& commit);
  protocol::SiteResponse OnReleaseState(const protocol::ReleaseStateQuery& query);
  protocol::SiteResponse OnUploadModel(const protocol::UploadModel& upload);
  protocol::SiteResponse OnAuditJob(const protocol::AuditJobQuery& query);
  protocol::SiteResponse OnCommitCanaries(const protocol::CanaryCommitment& commitment);
  protocol::SiteResponse OnRevealCanaries(const protocol::CanaryReveal& reveal);
  // This site's release `release_id`; NotFound for an unknown one or another site's.
  absl::StatusOr<ReleaseRecord> OwnRelease(const std::string& release_id);
  absl::StatusOr<const DatasetDeclaration*> DeclaredDataset(const ReleaseRecord& release) const;
  // Validates a chunk's rows under the release's mode; returns the row count.
  absl::StatusOr<int64_t> ValidateChunkRows(const ReleaseRecord& release,
                                            const DatasetDeclaration& dataset,
                                            const protocol::UploadChunk& chunk);
  // The latent dimension of a stored decoder (cached: parsing a model costs milliseconds).
  absl::StatusOr<int> StoredDecoderLatentDim(const ReleaseRecord& release,
                                             const DatasetDeclaration& dataset);

  // Records the site as seen now, with its certificate.
  absl::Status Touch();

  std::string site_id_;
  std::string certificate_serial_;
  int64_t certificate_not_after_unix_ = 0;
  Storage& storage_;
  const CoordinatorConfig& config_;
  Clock clock_;
  bool greeted_ = false;
  // What the decoder of `release` must state (decoder.h).
  absl::StatusOr<DecoderClaims> ClaimsOf(const ReleaseRecord& release);
  // release id -> its checked decoder's latent dimension.
  std::map<std::string, int> latent_dims_;
  privacy::RandomSource* canary_random_;  // a pointer, so that a session stays movable
};

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_SITE_SESSION_H_
