#include "protocol/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

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
  // Serialised straight into the string (a flat array first would copy every chunk once more).
  std::string bytes(capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word), '\0');
  kj::ArrayOutputStream out(kj::arrayPtr(reinterpret_cast<kj::byte*>(bytes.data()), bytes.size()));
  capnp::writeMessage(out, builder);
  return bytes;
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

// One enum of ours beside its Cap'n Proto twin: both directions read the same table. FromWire
// answers nullopt for an enumerant this table lacks (a newer or hostile peer's).
template <typename Ours, typename Wire, size_t N>
struct EnumMap {
  std::array<std::pair<Ours, Wire>, N> pairs;
  Wire ToWire(Ours ours) const {
    for (const auto& [o, w] : pairs)
      if (o == ours) return w;
    return pairs[0].second;  // unreachable while every enumerant is listed
  }
  std::optional<Ours> FromWire(Wire wire) const {
    for (const auto& [o, w] : pairs)
      if (w == wire) return o;
    return std::nullopt;
  }
};

constexpr EnumMap<privacy::ReleaseMode, ::ReleaseMode, 3> kReleaseModes{
    {{{privacy::ReleaseMode::kSynthetic, ::ReleaseMode::SYNTHETIC},
      {privacy::ReleaseMode::kCodes, ::ReleaseMode::CODES},
      {privacy::ReleaseMode::kModelOnly, ::ReleaseMode::MODEL_ONLY}}}};
// `unstated` on the wire is an absent relation here.
constexpr EnumMap<privacy::NeighbouringRelation, ::NeighbouringRelation, 2> kRelations{
    {{{privacy::NeighbouringRelation::kReplaceOne, ::NeighbouringRelation::REPLACE_ONE},
      {privacy::NeighbouringRelation::kAddRemove, ::NeighbouringRelation::ADD_REMOVE}}}};
constexpr EnumMap<privacy::NoiseMetric, ::NoiseMetric, 2> kMetrics{
    {{{privacy::NoiseMetric::kL2, ::NoiseMetric::L2},
      {privacy::NoiseMetric::kL1, ::NoiseMetric::L1}}}};
// The largest latent dimension read from a peer: MetricMechanism::Create refuses anything above
// 4096, so a larger value stays invalid instead of wrapping to a valid int.
constexpr uint32_t kMaxWireLatentDim = 1u << 20;
constexpr EnumMap<ReleaseProgress, ::ReleaseProgress, 3> kProgress{
    {{{ReleaseProgress::kUnknown, ::ReleaseProgress::UNKNOWN},
      {ReleaseProgress::kReserved, ::ReleaseProgress::RESERVED},
      {ReleaseProgress::kCommitted, ::ReleaseProgress::COMMITTED}}}};
constexpr EnumMap<audit::AuditState, ::CanaryAuditState, 4> kAuditStates{
    {{{audit::AuditState::kIssued, ::CanaryAuditState::ISSUED},
      {audit::AuditState::kCommitted, ::CanaryAuditState::COMMITTED},
      {audit::AuditState::kRevealed, ::CanaryAuditState::REVEALED},
      {audit::AuditState::kInvalid, ::CanaryAuditState::INVALID}}}};
constexpr EnumMap<audit::AuditStatus, ::AuditStatus, 3> kAuditStatuses{
    {{{audit::AuditStatus::kPending, ::AuditStatus::PENDING},
      {audit::AuditStatus::kPassed, ::AuditStatus::PASSED},
      {audit::AuditStatus::kFailed, ::AuditStatus::FAILED}}}};

absl::Status UnknownEnumerant(const char* what) {
  return absl::InvalidArgumentError(std::string("malformed message: unknown ") + what);
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
  std::visit(
      Overloaded{
          [&](const Hello& m) {
            auto b = root.initHello();
            b.setProtocolVersion(m.protocol_version);
            b.setAgentVersion(AsText(m.agent_version));
          },
          [&](const Reserve& m) {
            auto b = root.initReserve();
            b.setReleaseId(AsText(m.release_id));
            b.setDataset(AsText(m.dataset));
            b.setReleaseMicros(m.charge.release_micros);
            b.setRows(m.rows);
            b.setReleaseMode(kReleaseModes.ToWire(m.mode));
            b.setModelPrivate(m.charge.model_private);
            b.setModelSha256(AsText(m.charge.model_sha256));
            b.setModelMicros(m.charge.model_micros);
            b.setModelDelta(m.charge.model_delta);
            b.setRelation(m.relation ? kRelations.ToWire(*m.relation)
                                     : ::NeighbouringRelation::UNSTATED);
            if (m.mechanism) {
              auto mechanism = b.initMechanism();
              mechanism.setMetric(kMetrics.ToWire(m.mechanism->metric));
              mechanism.setEpsilonPerUnit(m.mechanism->epsilon_per_unit);
              mechanism.setClipRadius(m.mechanism->clip_radius);
              mechanism.setGridExponent(m.mechanism->grid_exponent.value_or(0));
              mechanism.setLatentDim(static_cast<uint32_t>(std::max(0, m.mechanism->dimension)));
            }
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
            auto bits = b.initInclusion(static_cast<unsigned>(m.bits.size()));
            for (unsigned i = 0; i < m.bits.size(); ++i) bits.set(i, m.bits[i]);
            b.setSalt(AsText(m.salt));
            auto positions = b.initRowPositions(static_cast<unsigned>(m.positions.size()));
            for (unsigned i = 0; i < m.positions.size(); ++i)
              positions.set(i, static_cast<uint64_t>(m.positions[i]));
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
            reserve.charge.release_micros = m.getReleaseMicros();
            reserve.rows = m.getRows();
            const std::optional<privacy::ReleaseMode> mode =
                kReleaseModes.FromWire(m.getReleaseMode());
            if (!mode) return UnknownEnumerant("release mode");
            reserve.mode = *mode;
            reserve.charge.model_private = m.getModelPrivate();
            reserve.charge.model_sha256 = FromText(m.getModelSha256());
            reserve.charge.model_micros = m.getModelMicros();
            reserve.charge.model_delta = m.getModelDelta();
            // An unknown relation (a newer or hostile peer) reads as unstated, which the
            // coordinator refuses with the reason.
            reserve.relation = kRelations.FromWire(m.getRelation());
            if (m.hasMechanism()) {
              auto mechanism = m.getMechanism();
              const std::optional<privacy::NoiseMetric> metric =
                  kMetrics.FromWire(mechanism.getMetric());
              if (!metric) return UnknownEnumerant("noise metric");
              privacy::MetricMechanismParams& params = reserve.mechanism.emplace();
              params.metric = *metric;
              params.epsilon_per_unit = mechanism.getEpsilonPerUnit();
              params.clip_radius = mechanism.getClipRadius();
              params.grid_exponent = mechanism.getGridExponent();
              params.dimension =
                  static_cast<int>(std::min(mechanism.getLatentDim(), kMaxWireLatentDim));
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
            CanaryReveal reveal{FromText(m.getReleaseId()), {}, FromText(m.getSalt()), {}};
            for (const bool bit : m.getInclusion()) reveal.bits.push_back(bit);
            for (const uint64_t position : m.getRowPositions()) {
              if (position > static_cast<uint64_t>(INT64_MAX))
                return absl::InvalidArgumentError(
                    "malformed message: a canary position beyond "
                    "any release");
              reveal.positions.push_back(static_cast<int64_t>(position));
            }
            return reveal;
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
                   b.setProgress(kProgress.ToWire(m.state));
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
                   b.setState(kAuditStates.ToWire(m.state));
                 },
             },
             response);
  return ToBytes(message);
}

absl::StatusOr<SiteResponse> DecodeSiteResponse(std::string_view bytes) {
  return ReadMessage<::SiteResponse, SiteResponse>(
      bytes, [](::SiteResponse::Reader r) -> absl::StatusOr<SiteResponse> {
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
            const std::optional<ReleaseProgress> progress = kProgress.FromWire(m.getProgress());
            if (!progress) return UnknownEnumerant("release progress");
            return ReleaseState{FromText(m.getReleaseId()), *progress, m.getNextIndex()};
          }
          case ::SiteResponse::MODEL_STORED:
            return ModelStored{FromText(r.getModelStored())};
          case ::SiteResponse::AUDIT_JOB: {
            auto m = r.getAuditJob();
            return AuditJob{FromText(m.getReleaseId()), FromData(m.getCanaries()), m.getCount()};
          }
          case ::SiteResponse::AUDIT_STATE: {
            auto m = r.getAuditState();
            const std::optional<audit::AuditState> state = kAuditStates.FromWire(m.getState());
            if (!state) return UnknownEnumerant("audit state");
            return AuditStateReply{FromText(m.getReleaseId()), *state};
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
    case AdminQuery::kAudits:
      root.setAudits();
      break;
    case AdminQuery::kAudit:
      root.setAudit(AsText(request.release_id));
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
          case ::AdminRequest::AUDITS:
            request.query = AdminQuery::kAudits;
            return request;
          case ::AdminRequest::AUDIT:
            request.query = AdminQuery::kAudit;
            request.release_id = FromText(r.getAudit());
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
                     list[i].setCertificateSerial(AsText(v[i].certificate_serial));
                     list[i].setCertificateNotAfterUnix(v[i].certificate_not_after_unix);
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
                     list[i].setProgress(kProgress.ToWire(v[i].state));
                     list[i].setChargeMicros(v[i].charge_micros);
                     list[i].setRows(v[i].rows);
                     list[i].setSha256(AsText(v[i].sha256));
                     list[i].setCreatedUnix(v[i].created_unix);
                     list[i].setModelPrivate(v[i].model_private);
                     list[i].setReleaseMode(kReleaseModes.ToWire(v[i].mode));
                     list[i].setAudit(kAuditStatuses.ToWire(v[i].audit));
                     list[i].setApproved(v[i].approved);
                   }
                 },
                 [&](const std::vector<AuditInfo>& v) {
                   auto list = root.initAudits(static_cast<unsigned>(v.size()));
                   for (unsigned i = 0; i < v.size(); ++i) {
                     auto a = list[i];
                     a.setReleaseId(AsText(v[i].release_id));
                     a.setSiteId(AsText(v[i].site_id));
                     a.setDataset(AsText(v[i].dataset));
                     a.setState(kAuditStates.ToWire(v[i].state));
                     a.setCanaries(v[i].canaries);
                     a.setIncluded(v[i].included);
                     a.setStatus(kAuditStatuses.ToWire(v[i].status));
                     a.setWhy(AsText(v[i].why));
                     a.setClaimedMicros(v[i].claimed_micros);
                     a.setLowerBoundMicros(v[i].lower_bound_micros);
                     a.setApproved(v[i].approved);
                     a.setApprovedBy(AsText(v[i].approved_by));
                     a.setApprovalReason(AsText(v[i].approval_reason));
                     a.setApprovedUnix(v[i].approved_unix);
                     a.setVerdictJson(AsText(v[i].verdict_json));
                     a.setJudgedUnix(v[i].judged_unix);
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
                           s.getAuditsPassed(), s.getAuditsFailed(), s.getAuditsPending(),
                           FromText(s.getCertificateSerial()), s.getCertificateNotAfterUnix()});
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
              const std::optional<ReleaseProgress> progress = kProgress.FromWire(x.getProgress());
              const std::optional<privacy::ReleaseMode> mode =
                  kReleaseModes.FromWire(x.getReleaseMode());
              const std::optional<audit::AuditStatus> audit = kAuditStatuses.FromWire(x.getAudit());
              if (!progress || !mode || !audit) return UnknownEnumerant("release description");
              v.push_back({FromText(x.getReleaseId()), FromText(x.getSiteId()),
                           FromText(x.getDataset()), *progress, x.getChargeMicros(), x.getRows(),
                           FromText(x.getSha256()), x.getCreatedUnix(), x.getModelPrivate(), *mode,
                           *audit, x.getApproved()});
            }
            return v;
          }
          case ::AdminResponse::AUDITS: {
            std::vector<AuditInfo> v;
            for (auto a : r.getAudits()) {
              const std::optional<audit::AuditState> state = kAuditStates.FromWire(a.getState());
              const std::optional<audit::AuditStatus> status =
                  kAuditStatuses.FromWire(a.getStatus());
              if (!state || !status) return UnknownEnumerant("audit description");
              AuditInfo info;
              info.release_id = FromText(a.getReleaseId());
              info.site_id = FromText(a.getSiteId());
              info.dataset = FromText(a.getDataset());
              info.state = *state;
              info.canaries = a.getCanaries();
              info.included = a.getIncluded();
              info.status = *status;
              info.why = FromText(a.getWhy());
              info.claimed_micros = a.getClaimedMicros();
              info.lower_bound_micros = a.getLowerBoundMicros();
              info.approved = a.getApproved();
              info.approved_by = FromText(a.getApprovedBy());
              info.approval_reason = FromText(a.getApprovalReason());
              info.approved_unix = a.getApprovedUnix();
              info.verdict_json = FromText(a.getVerdictJson());
              info.judged_unix = a.getJudgedUnix();
              v.push_back(std::move(info));
            }
            return v;
          }
        }
        return absl::InvalidArgumentError("unknown admin response type");
      });
}

}  // namespace fedsyn::protocol
