#include "protocol/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>

#include "protocol/admin_api.capnp.h"
#include "protocol/site_api.capnp.h"

namespace fedsyn::protocol {
namespace {

// Our schemas nest at most four levels (response -> welcome -> datasets -> grant); 16 leaves
// room for growth while stopping deeply nested hostile pointers early.
constexpr int kNestingLimit = 16;

capnp::Text::Reader AsText(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
capnp::Data::Reader AsData(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}
std::string FromText(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
std::string FromData(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

std::string ToBytes(capnp::MessageBuilder& builder) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Runs `read` on a reader over `bytes` with limits sized to the message itself; any
// Cap'n Proto exception (bad segment table, out-of-bounds pointer, limits) becomes
// InvalidArgument.
template <typename Root, typename Result, typename Read>
absl::StatusOr<Result> ReadMessage(std::string_view bytes, Read read) {
  if (bytes.empty() || bytes.size() > kMaxMessageBytes || bytes.size() % sizeof(capnp::word) != 0) {
    return absl::InvalidArgumentError("malformed message: size " + std::to_string(bytes.size()) +
                                      " is not a whole number of words within the limit");
  }
  // Copy into word-aligned storage: FlatArrayMessageReader requires alignment.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  // The whole message is at most words.size() words: a traversal beyond that can only come
  // from pointers aliasing the same data (an amplification attack).
  options.traversalLimitInWords = words.size();
  options.nestingLimit = kNestingLimit;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    return read(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return absl::InvalidArgumentError(std::string("malformed message: ") +
                                      e.getDescription().cStr());
  }
}

void SetError(::Error::Builder b, const Error& e) {
  b.setCode(static_cast<uint32_t>(e.code));
  b.setMessage(AsText(e.message));
  b.setRemainingMicros(e.remaining_micros);
}

Error GetError(::Error::Reader r) {
  Error e;
  e.code = static_cast<absl::StatusCode>(r.getCode());
  e.message = FromText(r.getMessage());
  e.remaining_micros = r.getRemainingMicros();
  return e;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

std::string EncodeSiteRequest(const SiteRequest& request) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<::SiteRequest>();
  std::visit(Overloaded{
                 [&](const Hello& m) {
                   auto b = root.initHello();
                   b.setProtocolVersion(m.protocol_version);
                   b.setAgentVersion(AsText(m.agent_version));
                 },
                 [&](const Reserve& m) {
                   auto b = root.initReserve();
                   b.setReleaseId(AsText(m.release_id));
                   b.setDataset(AsText(m.dataset));
                   b.setChargeMicros(m.charge_micros);
                   b.setRows(m.rows);
                   b.setMode(AsText(m.mode));
                   b.setModelPrivate(m.model_private);
                   b.setModelSha256(AsText(m.model_sha256));
                   b.setModelEpsilonMicros(m.model_epsilon_micros);
                   b.setModelDelta(m.model_delta);
                   b.setRelation(m.relation == NeighbouringRelation::kReplaceOne
                                     ? ::NeighbouringRelation::REPLACE_ONE
                                     : ::NeighbouringRelation::UNSTATED);
                   auto mechanism = b.initMechanism();
                   mechanism.setMetric(m.mechanism.metric == NoiseMetric::kL1 ? ::NoiseMetric::L1
                                                                              : ::NoiseMetric::L2);
                   mechanism.setEpsilonPerUnit(m.mechanism.epsilon_per_unit);
                   mechanism.setClipRadius(m.mechanism.clip_radius);
                   mechanism.setGridExponent(m.mechanism.grid_exponent);
                   mechanism.setLatentDim(m.mechanism.latent_dim);
                 },
                 [&](const UploadChunk& m) {
                   auto b = root.initUploadChunk();
                   b.setReleaseId(AsText(m.release_id));
                   b.setIndex(m.index);
                   b.setRows(AsData(m.rows));
                 },
                 [&](const Commit& m) {
                   auto b = root.initCommit();
                   b.setReleaseId(AsText(m.release_id));
                   b.setRowCount(m.row_count);
                   b.setSha256(AsText(m.sha256));
                 },
                 [&](const Heartbeat&) { root.setHeartbeat(); },
                 [&](const ReleaseStateQuery& m) { root.setReleaseState(AsText(m.release_id)); },
                 [&](const UploadModel& m) {
                   auto b = root.initUploadModel();
                   b.setReleaseId(AsText(m.release_id));
                   b.setModel(AsData(m.model));
                 },
                 [&](const AuditJobQuery& m) {
                   auto b = root.initOpenAudit();
                   b.setReleaseId(AsText(m.release_id));
                   b.setDataset(AsText(m.dataset));
                 },
                 [&](const CanaryCommitment& m) {
                   auto b = root.initCommitCanaries();
                   b.setReleaseId(AsText(m.release_id));
                   b.setCommitment(AsText(m.commitment));
                 },
                 [&](const CanaryReveal& m) {
                   auto b = root.initRevealCanaries();
                   b.setReleaseId(AsText(m.release_id));
                   b.setBits(AsText(m.bits));
                   b.setSalt(AsText(m.salt));
                   b.setPositions(AsText(m.positions));
                 },
             },
             request);
  return ToBytes(message);
}

absl::StatusOr<SiteRequest> DecodeSiteRequest(std::string_view bytes) {
  return ReadMessage<::SiteRequest, SiteRequest>(
      bytes, [](::SiteRequest::Reader r) -> absl::StatusOr<SiteRequest> {
        switch (r.which()) {
          case ::SiteRequest::HELLO: {
            auto m = r.getHello();
            return Hello{m.getProtocolVersion(), FromText(m.getAgentVersion())};
          }
          case ::SiteRequest::RESERVE: {
            auto m = r.getReserve();
            Reserve reserve;
            reserve.release_id = FromText(m.getReleaseId());
            reserve.dataset = FromText(m.getDataset());
            reserve.charge_micros = m.getChargeMicros();
            reserve.rows = m.getRows();
            reserve.mode = FromText(m.getMode());
            reserve.model_private = m.getModelPrivate();
            reserve.model_sha256 = FromText(m.getModelSha256());
            reserve.model_epsilon_micros = m.getModelEpsilonMicros();
            reserve.model_delta = m.getModelDelta();
            // Unknown enumerants (a newer or hostile peer) read as unstated / an invalid metric.
            reserve.relation = m.getRelation() == ::NeighbouringRelation::REPLACE_ONE
                                   ? NeighbouringRelation::kReplaceOne
                                   : NeighbouringRelation::kUnstated;
            if (m.hasMechanism()) {
              auto mechanism = m.getMechanism();
              const auto metric = mechanism.getMetric();
              if (metric != ::NoiseMetric::L2 && metric != ::NoiseMetric::L1)
                return absl::InvalidArgumentError("unknown noise metric");
              reserve.mechanism.metric =
                  metric == ::NoiseMetric::L1 ? NoiseMetric::kL1 : NoiseMetric::kL2;
              reserve.mechanism.epsilon_per_unit = mechanism.getEpsilonPerUnit();
              reserve.mechanism.clip_radius = mechanism.getClipRadius();
              reserve.mechanism.grid_exponent = mechanism.getGridExponent();
              reserve.mechanism.latent_dim = mechanism.getLatentDim();
            }
            return reserve;
          }
          case ::SiteRequest::UPLOAD_CHUNK: {
            auto m = r.getUploadChunk();
            return UploadChunk{FromText(m.getReleaseId()), m.getIndex(), FromData(m.getRows())};
          }
          case ::SiteRequest::COMMIT: {
            auto m = r.getCommit();
            return Commit{FromText(m.getReleaseId()), m.getRowCount(), FromText(m.getSha256())};
          }
          case ::SiteRequest::HEARTBEAT:
            return Heartbeat{};
          case ::SiteRequest::RELEASE_STATE:
            return ReleaseStateQuery{FromText(r.getReleaseState())};
          case ::SiteRequest::UPLOAD_MODEL: {
            auto m = r.getUploadModel();
            return UploadModel{FromText(m.getReleaseId()), FromData(m.getModel())};
          }
          case ::SiteRequest::AUDIT_JOB:
            return absl::InvalidArgumentError(
                "auditJob is retired: open an audit before reserving (openAudit)");
          case ::SiteRequest::OPEN_AUDIT: {
            auto m = r.getOpenAudit();
            return AuditJobQuery{FromText(m.getReleaseId()), FromText(m.getDataset())};
          }
          case ::SiteRequest::COMMIT_CANARIES: {
            auto m = r.getCommitCanaries();
            return CanaryCommitment{FromText(m.getReleaseId()), FromText(m.getCommitment())};
          }
          case ::SiteRequest::REVEAL_CANARIES: {
            auto m = r.getRevealCanaries();
            return CanaryReveal{FromText(m.getReleaseId()), FromText(m.getBits()),
                                FromText(m.getSalt()), FromText(m.getPositions())};
          }
        }
        return absl::InvalidArgumentError("unknown site request type");
      });
}

std::string EncodeSiteResponse(const SiteResponse& response) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<::SiteResponse>();
  std::visit(Overloaded{
                 [&](const Error& m) { SetError(root.initError(), m); },
                 [&](const Welcome& m) {
                   auto b = root.initWelcome();
                   b.setProtocolVersion(m.protocol_version);
                   b.setSiteId(AsText(m.site_id));
                   auto list = b.initDatasets(static_cast<unsigned>(m.datasets.size()));
                   for (size_t i = 0; i < m.datasets.size(); ++i) {
                     auto g = list[static_cast<unsigned>(i)];
                     g.setName(AsText(m.datasets[i].name));
                     g.setSchemaToml(AsText(m.datasets[i].schema_toml));
                     g.setLimitMicros(m.datasets[i].limit_micros);
                     g.setSpentMicros(m.datasets[i].spent_micros);
                   }
                 },
                 [&](const Reserved& m) {
                   auto b = root.initReserved();
                   b.setReleaseId(AsText(m.release_id));
                   b.setRemainingMicros(m.remaining_micros);
                   b.setReplayed(m.replayed);
                   b.setChargedMicros(m.charged_micros);
                 },
                 [&](const ChunkAck& m) {
                   auto b = root.initChunkAck();
                   b.setReleaseId(AsText(m.release_id));
                   b.setNextIndex(m.next_index);
                 },
                 [&](const Committed&) { root.setCommitted(); },
                 [&](const HeartbeatReply&) { root.setHeartbeat(); },
                 [&](const ReleaseState& m) {
                   auto b = root.initReleaseState();
                   b.setReleaseId(AsText(m.release_id));
                   b.setState(AsText(m.state));
                   b.setNextIndex(m.next_index);
                 },
                 [&](const ModelStored& m) { root.setModelStored(AsText(m.release_id)); },
                 [&](const AuditJob& m) {
                   auto b = root.initAuditJob();
                   b.setReleaseId(AsText(m.release_id));
                   b.setCanaries(AsData(m.canaries));
                   b.setCount(m.count);
                 },
                 [&](const AuditStateReply& m) {
                   auto b = root.initAuditState();
                   b.setReleaseId(AsText(m.release_id));
                   b.setState(AsText(m.state));
                 },
             },
             response);
  return ToBytes(message);
}

absl::StatusOr<SiteResponse> DecodeSiteResponse(std::string_view bytes) {
  return ReadMessage<
      ::SiteResponse,
      SiteResponse>(bytes, [](::SiteResponse::Reader r) -> absl::StatusOr<SiteResponse> {
    switch (r.which()) {
      case ::SiteResponse::ERROR:
        return GetError(r.getError());
      case ::SiteResponse::WELCOME: {
        auto m = r.getWelcome();
        Welcome w;
        w.protocol_version = m.getProtocolVersion();
        w.site_id = FromText(m.getSiteId());
        for (auto g : m.getDatasets()) {
          w.datasets.push_back({FromText(g.getName()), FromText(g.getSchemaToml()),
                                g.getLimitMicros(), g.getSpentMicros()});
        }
        return w;
      }
      case ::SiteResponse::RESERVED: {
        auto m = r.getReserved();
        return Reserved{FromText(m.getReleaseId()), m.getRemainingMicros(), m.getReplayed(),
                        m.getChargedMicros()};
      }
      case ::SiteResponse::CHUNK_ACK: {
        auto m = r.getChunkAck();
        return ChunkAck{FromText(m.getReleaseId()), m.getNextIndex()};
      }
      case ::SiteResponse::COMMITTED:
        return Committed{};
      case ::SiteResponse::HEARTBEAT:
        return HeartbeatReply{};
      case ::SiteResponse::RELEASE_STATE: {
        auto m = r.getReleaseState();
        return ReleaseState{FromText(m.getReleaseId()), FromText(m.getState()), m.getNextIndex()};
      }
      case ::SiteResponse::MODEL_STORED:
        return ModelStored{FromText(r.getModelStored())};
      case ::SiteResponse::AUDIT_JOB: {
        auto m = r.getAuditJob();
        return AuditJob{FromText(m.getReleaseId()), FromData(m.getCanaries()), m.getCount()};
      }
      case ::SiteResponse::AUDIT_STATE: {
        auto m = r.getAuditState();
        return AuditStateReply{FromText(m.getReleaseId()), FromText(m.getState())};
      }
    }
    return absl::InvalidArgumentError("unknown site response type");
  });
}

std::string EncodeAdminRequest(const AdminRequest& request) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<::AdminRequest>();
  root.setProtocolVersion(request.protocol_version);
  switch (request.query) {
    case AdminQuery::kStatus:
      root.setStatus();
      break;
    case AdminQuery::kBudgets:
      root.setBudgets();
      break;
    case AdminQuery::kReleases:
      root.setReleases();
      break;
  }
  return ToBytes(message);
}

absl::StatusOr<AdminRequest> DecodeAdminRequest(std::string_view bytes) {
  return ReadMessage<::AdminRequest, AdminRequest>(
      bytes, [](::AdminRequest::Reader r) -> absl::StatusOr<AdminRequest> {
        AdminRequest request;
        request.protocol_version = r.getProtocolVersion();
        switch (r.which()) {
          case ::AdminRequest::STATUS:
            request.query = AdminQuery::kStatus;
            return request;
          case ::AdminRequest::BUDGETS:
            request.query = AdminQuery::kBudgets;
            return request;
          case ::AdminRequest::RELEASES:
            request.query = AdminQuery::kReleases;
            return request;
        }
        return absl::InvalidArgumentError("unknown admin request type");
      });
}

std::string EncodeAdminResponse(const AdminResponse& response) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<::AdminResponse>();
  std::visit(Overloaded{
                 [&](const Error& m) {
                   auto b = root.initError();
                   b.setCode(static_cast<uint32_t>(m.code));
                   b.setMessage(AsText(m.message));
                 },
                 [&](const std::vector<SiteStatus>& v) {
                   auto list = root.initStatus(static_cast<unsigned>(v.size()));
                   for (unsigned i = 0; i < v.size(); ++i) {
                     list[i].setSiteId(AsText(v[i].site_id));
                     list[i].setConnected(v[i].connected);
                     list[i].setLastSeenUnix(v[i].last_seen_unix);
                     list[i].setReleases(v[i].releases);
                     list[i].setRows(v[i].rows);
                     list[i].setSpentMicros(v[i].spent_micros);
                     list[i].setLimitMicros(v[i].limit_micros);
                     list[i].setAuditsPassed(v[i].audits_passed);
                     list[i].setAuditsFailed(v[i].audits_failed);
                     list[i].setAuditsPending(v[i].audits_pending);
                   }
                 },
                 [&](const std::vector<Budget>& v) {
                   auto list = root.initBudgets(static_cast<unsigned>(v.size()));
                   for (unsigned i = 0; i < v.size(); ++i) {
                     list[i].setSiteId(AsText(v[i].site_id));
                     list[i].setDataset(AsText(v[i].dataset));
                     list[i].setLimitMicros(v[i].limit_micros);
                     list[i].setSpentMicros(v[i].spent_micros);
                   }
                 },
                 [&](const std::vector<ReleaseInfo>& v) {
                   auto list = root.initReleases(static_cast<unsigned>(v.size()));
                   for (unsigned i = 0; i < v.size(); ++i) {
                     list[i].setReleaseId(AsText(v[i].release_id));
                     list[i].setSiteId(AsText(v[i].site_id));
                     list[i].setDataset(AsText(v[i].dataset));
                     list[i].setState(AsText(v[i].state));
                     list[i].setChargeMicros(v[i].charge_micros);
                     list[i].setRows(v[i].rows);
                     list[i].setSha256(AsText(v[i].sha256));
                     list[i].setCreatedUnix(v[i].created_unix);
                     list[i].setModelPrivate(v[i].model_private);
                     list[i].setMode(AsText(v[i].mode));
                     list[i].setAudit(AsText(v[i].audit));
                     list[i].setApproved(v[i].approved);
                   }
                 },
             },
             response);
  return ToBytes(message);
}

absl::StatusOr<AdminResponse> DecodeAdminResponse(std::string_view bytes) {
  return ReadMessage<::AdminResponse, AdminResponse>(
      bytes, [](::AdminResponse::Reader r) -> absl::StatusOr<AdminResponse> {
        switch (r.which()) {
          case ::AdminResponse::ERROR: {
            Error e;
            e.code = static_cast<absl::StatusCode>(r.getError().getCode());
            e.message = FromText(r.getError().getMessage());
            return e;
          }
          case ::AdminResponse::STATUS: {
            std::vector<SiteStatus> v;
            for (auto s : r.getStatus()) {
              v.push_back({FromText(s.getSiteId()), s.getConnected(), s.getLastSeenUnix(),
                           s.getReleases(), s.getRows(), s.getSpentMicros(), s.getLimitMicros(),
                           s.getAuditsPassed(), s.getAuditsFailed(), s.getAuditsPending()});
            }
            return v;
          }
          case ::AdminResponse::BUDGETS: {
            std::vector<Budget> v;
            for (auto b : r.getBudgets()) {
              v.push_back({FromText(b.getSiteId()), FromText(b.getDataset()), b.getLimitMicros(),
                           b.getSpentMicros()});
            }
            return v;
          }
          case ::AdminResponse::RELEASES: {
            std::vector<ReleaseInfo> v;
            for (auto x : r.getReleases()) {
              v.push_back({FromText(x.getReleaseId()), FromText(x.getSiteId()),
                           FromText(x.getDataset()), FromText(x.getState()), x.getChargeMicros(),
                           x.getRows(), FromText(x.getSha256()), x.getCreatedUnix(),
                           x.getModelPrivate(), FromText(x.getMode()), FromText(x.getAudit()),
                           x.getApproved()});
            }
            return v;
          }
        }
        return absl::InvalidArgumentError("unknown admin response type");
      });
}

}  // namespace fedsyn::protocol
