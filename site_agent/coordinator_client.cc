#include "site_agent/coordinator_client.h"

#include <thread>

#include "common/net/backoff.h"
#include "common/net/tls.h"
#include "common/privacy/budget.h"
#include "protocol/codec.h"
#include "spdlog/spdlog.h"

namespace fedsyn::site {
namespace {

// The coordinator's refusal as a status; a budget refusal says what remains.
absl::Status FromWire(const protocol::Error& e) {
  if (e.remaining_micros < 0) return protocol::StatusFromError(e);
  return protocol::StatusFromError(
      {e.code, e.message + " (remaining " + privacy::FormatMicros(e.remaining_micros) + " epsilon)",
       -1});
}

template <typename T>
absl::StatusOr<T> Expect(absl::StatusOr<protocol::SiteResponse> response) {
  RETURN_IF_ERROR(response.status());
  if (const auto* error = std::get_if<protocol::Error>(&*response)) return FromWire(*error);
  if (const auto* value = std::get_if<T>(&*response)) return *value;
  return absl::InternalError("coordinator sent an unexpected response type");
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalLedger>> OpenLedger(const SiteKit& kit,
                                                        const ClientOptions& options) {
  if (options.open_ledger) return options.open_ledger(kit.ledger_path);
  return LocalLedger::Open(kit.ledger_path);
}

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Connect(
    const SiteKit& kit, ClientOptions options, std::function<double()> uniform01) {
  if (!options.dial) {
    ASSIGN_OR_RETURN(const auto address, net::ParseHostPort(kit.coordinator));
    ASSIGN_OR_RETURN(
        std::shared_ptr<net::TlsContext> context,
        net::MakeTlsContext({kit.ca_file, kit.cert_file, kit.key_file}, net::Role::kClient));
    const net::Deadline deadline = options.connect_deadline;
    options.dial = [address, context, deadline, source = options.source_address]()
        -> absl::StatusOr<std::unique_ptr<net::FrameConnection>> {
      ASSIGN_OR_RETURN(std::unique_ptr<net::PeerConnection> connection,
                       net::DialTls(address.first, address.second, context, deadline, source));
      return connection;
    };
  }
  net::Backoff backoff(options.backoff_base, options.backoff_cap, std::move(uniform01));
  absl::Status last = absl::UnavailableError("no attempt made");
  for (int attempt = 0; attempt < options.connect_attempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(backoff.Next());
    auto connection = options.dial();
    if (!connection.ok()) {
      last = connection.status();
      spdlog::warn("connecting to {} failed (attempt {}/{}): {}", kit.coordinator, attempt + 1,
                   options.connect_attempts, std::string(last.message()));
      continue;
    }
    std::unique_ptr<CoordinatorClient> client(
        new CoordinatorClient(std::move(*connection), options));
    auto welcome = Expect<protocol::Welcome>(
        client->Call(protocol::Hello{protocol::kProtocolVersion, "fedsyn-agent"}));
    if (!welcome.ok()) {
      // A refusal in the hello (e.g. a protocol version mismatch) will not go away by retrying.
      if (welcome.status().code() != absl::StatusCode::kUnavailable &&
          welcome.status().code() != absl::StatusCode::kDeadlineExceeded) {
        return welcome.status();
      }
      last = welcome.status();
      continue;
    }
    client->welcome_ = *welcome;
    return client;
  }
  return absl::UnavailableError("cannot reach the coordinator at " + kit.coordinator + ": " +
                                std::string(last.message()));
}

absl::StatusOr<protocol::SiteResponse> CoordinatorClient::Call(
    const protocol::SiteRequest& request) {
  RETURN_IF_ERROR(
      connection_->WriteFrame(protocol::EncodeSiteRequest(request), options_.request_deadline));
  ASSIGN_OR_RETURN(const std::string frame,
                   connection_->ReadFrame(protocol::kMaxMessageBytes, options_.request_deadline));
  return protocol::DecodeSiteResponse(frame);
}

absl::StatusOr<protocol::DatasetGrant> CoordinatorClient::Grant(const std::string& dataset) const {
  for (const protocol::DatasetGrant& grant : welcome_.datasets) {
    if (grant.name == dataset) return grant;
  }
  return absl::NotFoundError("the coordinator has no budget for dataset '" + dataset +
                             "' for this site");
}

absl::StatusOr<protocol::Reserved> CoordinatorClient::Reserve(const protocol::Reserve& reserve) {
  return Expect<protocol::Reserved>(Call(reserve));
}

absl::StatusOr<protocol::AuditJob> CoordinatorClient::OpenAudit(const std::string& release_id,
                                                                const std::string& dataset) {
  return Expect<protocol::AuditJob>(Call(protocol::AuditJobQuery{release_id, dataset}));
}

absl::Status CoordinatorClient::CommitCanaries(const std::string& release_id,
                                               const std::string& commitment) {
  return Expect<protocol::AuditStateReply>(Call(protocol::CanaryCommitment{release_id, commitment}))
      .status();
}

absl::Status CoordinatorClient::RevealCanaries(const protocol::CanaryReveal& reveal) {
  return Expect<protocol::AuditStateReply>(Call(reveal)).status();
}

absl::StatusOr<protocol::ReleaseState> CoordinatorClient::State(const std::string& release_id) {
  return Expect<protocol::ReleaseState>(Call(protocol::ReleaseStateQuery{release_id}));
}

absl::StatusOr<std::vector<std::string>> CoordinatorClient::SplitChunks(const std::string& rows,
                                                                        size_t chunk_bytes) {
  // Each chunk is the longest run of whole lines that fits: cut after the last newline within
  // chunk_bytes, copied once.
  std::vector<std::string> chunks;
  size_t start = 0;
  while (start < rows.size()) {
    size_t end = rows.size();
    if (end - start > chunk_bytes) {
      const size_t newline = rows.rfind('\n', start + chunk_bytes - 1);
      if (newline == std::string::npos || newline < start)
        return absl::InvalidArgumentError("a row is longer than the chunk size");
      end = newline + 1;
    }
    chunks.push_back(rows.substr(start, end - start));
    start = end;
  }
  return chunks;
}

absl::StatusOr<bool> CoordinatorClient::Upload(const std::string& release_id,
                                               const std::string& rows, size_t chunk_bytes,
                                               int max_chunks) {
  ASSIGN_OR_RETURN(std::vector<std::string> chunks, SplitChunks(rows, chunk_bytes));
  ASSIGN_OR_RETURN(const protocol::ReleaseState state, State(release_id));
  if (state.state == protocol::ReleaseProgress::kUnknown)
    return absl::FailedPreconditionError("the coordinator has no reservation " + release_id);
  if (state.state == protocol::ReleaseProgress::kCommitted) return true;
  int sent = 0;
  for (uint32_t index = state.next_index; index < chunks.size(); ++index) {
    if (max_chunks >= 0 && sent == max_chunks) return false;
    ASSIGN_OR_RETURN(
        const protocol::ChunkAck ack,
        Expect<protocol::ChunkAck>(  // each chunk is sent once: moved, not copied, into its request
            Call(protocol::UploadChunk{release_id, index, std::move(chunks[index])})));
    if (ack.next_index != index + 1)
      return absl::InternalError("coordinator acknowledged an unexpected chunk");
    spdlog::debug("release {}: chunk {} of {} acknowledged", release_id, index + 1, chunks.size());
    ++sent;
  }
  return true;
}

absl::Status CoordinatorClient::UploadModel(const std::string& release_id,
                                            const std::string& model) {
  return Expect<protocol::ModelStored>(Call(protocol::UploadModel{release_id, model})).status();
}

absl::Status CoordinatorClient::Commit(const std::string& release_id, int64_t rows,
                                       const std::string& sha256) {
  return Expect<protocol::Committed>(Call(protocol::Commit{release_id, rows, sha256})).status();
}

absl::Status CoordinatorClient::Heartbeat() {
  return Expect<protocol::HeartbeatReply>(Call(protocol::Heartbeat{})).status();
}

void KeepPresence(const SiteKit& kit, const ClientOptions& options,
                  std::chrono::milliseconds interval, const std::atomic<bool>& stop,
                  std::function<double()> uniform01) {
  net::Backoff backoff(options.backoff_base, options.backoff_cap, uniform01);
  // Sleeps in small steps so that `stop` is honoured promptly.
  auto wait = [&stop](std::chrono::milliseconds total) {
    for (auto left = total; left.count() > 0 && !stop; left -= std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
    }
  };
  while (!stop) {
    ClientOptions once = options;
    once.connect_attempts = 1;
    auto client = CoordinatorClient::Connect(kit, once, uniform01);
    if (!client.ok()) {
      wait(backoff.Next());
      continue;
    }
    backoff.Reset();
    spdlog::info("present at the coordinator {}", kit.coordinator);
    while (!stop && (*client)->Heartbeat().ok()) wait(interval);
    if (!stop) spdlog::warn("lost the coordinator {}; reconnecting", kit.coordinator);
  }
}

}  // namespace fedsyn::site
