// The agent's side of the site API: dial out to the coordinator (sites never accept
// connections), greet, reserve, upload in chunks that resume after a disconnect, commit.
#ifndef FEDSYN_SITE_AGENT_COORDINATOR_CLIENT_H_
#define FEDSYN_SITE_AGENT_COORDINATOR_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "common/net/frame_connection.h"
#include "protocol/messages.h"
#include "site_agent/local_ledger.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site {

struct ClientOptions {
  net::Deadline connect_deadline = std::chrono::seconds(10);
  net::Deadline request_deadline = std::chrono::seconds(60);
  int connect_attempts = 6;  // with exponential backoff and jitter between them
  std::chrono::milliseconds backoff_base = std::chrono::milliseconds(200);
  std::chrono::milliseconds backoff_cap = std::chrono::seconds(10);
  // Chunk size for new uploads (whole lines up to this size); recorded per release in the
  // local ledger, so a resumed upload cuts exactly the same chunks.
  size_t chunk_bytes = 1 << 20;
  // The local address to connect from; empty: the system's choice.
  std::string source_address;
  // How a connection is opened: empty means mutual TLS to the kit's coordinator with the kit's
  // certificate (what the agent does); tests give an in-memory dialer
  // (tests/support/fake_connections.h) to drive every step without sockets.
  net::Dialer dial;
  // How the site's ledger is opened: empty means LocalLedger::Open(kit.ledger_path); tests give
  // one that fails on a chosen write (tests/support/failing_ledger.h).
  std::function<absl::StatusOr<std::unique_ptr<LocalLedger>>(const std::string& path)> open_ledger;
};

// The site's ledger at `kit.ledger_path`, opened as `options` says.
absl::StatusOr<std::unique_ptr<LocalLedger>> OpenLedger(const SiteKit& kit,
                                                        const ClientOptions& options);

class CoordinatorClient {
 public:
  // Dials (retrying with backoff; `uniform01` draws the jitter), handshakes, says hello and
  // checks the protocol version. Unavailable when every attempt failed.
  static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Connect(
      const SiteKit& kit, ClientOptions options, std::function<double()> uniform01);

  const protocol::Welcome& welcome() const { return welcome_; }
  // The federation's declaration of `dataset` for this site; NotFound if the site has none.
  absl::StatusOr<protocol::DatasetGrant> Grant(const std::string& dataset) const;

  // Refusals come back as their status; a budget refusal is ResourceExhausted with the
  // remaining budget in the message.
  absl::StatusOr<protocol::Reserved> Reserve(const protocol::Reserve& reserve);
  absl::StatusOr<protocol::ReleaseState> State(const std::string& release_id);
  // Sends `rows` (CSV lines) from the first chunk the coordinator does not have yet. Returns
  // true when the coordinator holds every chunk. `max_chunks` >= 0 stops after that many
  // chunks (tests simulate a dropped agent with it).
  absl::StatusOr<bool> Upload(const std::string& release_id, const std::string& rows,
                              size_t chunk_bytes, int max_chunks = -1);
  // Codes mode: the published decoder, before the chunks (idempotent for the same bytes).
  absl::Status UploadModel(const std::string& release_id, const std::string& model);
  absl::Status Commit(const std::string& release_id, int64_t rows, const std::string& sha256);
  absl::Status Heartbeat();

  // Canary audits (docs/audits.md): open the audit of the release that will carry
  // `release_id` (its canaries; count 0 if the dataset is not audited), commit to the inclusion
  // bits before reserving, reveal them after the release is committed.
  absl::StatusOr<protocol::AuditJob> OpenAudit(const std::string& release_id,
                                               const std::string& dataset);
  absl::Status CommitCanaries(const std::string& release_id, const std::string& commitment);
  absl::Status RevealCanaries(const protocol::CanaryReveal& reveal);

  // Splits CSV text into chunks of whole lines, each at most `chunk_bytes` (deterministic, so a
  // resumed upload cuts the same chunks). InvalidArgument if one line is longer.
  static absl::StatusOr<std::vector<std::string>> SplitChunks(const std::string& rows,
                                                              size_t chunk_bytes);

 private:
  CoordinatorClient(std::unique_ptr<net::FrameConnection> connection, ClientOptions options)
      : connection_(std::move(connection)), options_(std::move(options)) {}
  absl::StatusOr<protocol::SiteResponse> Call(const protocol::SiteRequest& request);

  std::unique_ptr<net::FrameConnection> connection_;
  ClientOptions options_;
  protocol::Welcome welcome_;
};

// Keeps this site present at the coordinator until `stop` is set: holds a session and sends a
// heartbeat every `interval` (the dashboard shows the site connected, with its last-seen time);
// when the coordinator goes away it reconnects with backoff and jitter, indefinitely.
void KeepPresence(const SiteKit& kit, const ClientOptions& options,
                  std::chrono::milliseconds interval, const std::atomic<bool>& stop,
                  std::function<double()> uniform01);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_COORDINATOR_CLIENT_H_
