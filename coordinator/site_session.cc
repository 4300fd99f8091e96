#include "coordinator/site_session.h"

#include <algorithm>

#include "common/audit/canary_protocol.h"
#include "common/base/logging.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/rdp_accountant.h"
#include "coordinator/decoder.h"
#include "coordinator/release_progress.h"
#include "protocol/codec.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator {
namespace {

// How much of a peer-chosen agent version string the connection log shows.
constexpr size_t kMaxAgentVersionShown = 64;

}  // namespace

SiteSession::SiteSession(std::string site_id, Storage& storage, const CoordinatorConfig& config,
                         Clock clock, privacy::RandomSource& canary_random)
    : site_id_(std::move(site_id)),
      storage_(storage),
      config_(config),
      clock_(std::move(clock)),
      canary_random_(&canary_random) {}

protocol::SiteResponse SiteSession::Handle(const protocol::SiteRequest& request) {
  protocol::SiteResponse response = Dispatch(request);
  // The site is told (Unavailable: retry later); the operator must hear of it too: a full disk
  // or a failing database stops every site's uploads.
  if (const auto* error = std::get_if<protocol::Error>(&response)) {
    if (error->code == absl::StatusCode::kUnavailable ||
        error->code == absl::StatusCode::kInternal) {
      spdlog::error("site {}: request failed on the coordinator's side: {}", site_id_,
                    error->message);
    }
  }
  return response;
}

protocol::SiteResponse SiteSession::Dispatch(const protocol::SiteRequest& request) {
  if (!greeted_ && !std::holds_alternative<protocol::Hello>(request)) {
    return protocol::ErrorFromStatus(
        absl::FailedPreconditionError("the first message must be a hello"));
  }
  return std::visit(
      [this](const auto& m) -> protocol::SiteResponse {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::Hello>) return OnHello(m);
        if constexpr (std::is_same_v<T, protocol::Reserve>) return OnReserve(m);
        if constexpr (std::is_same_v<T, protocol::UploadChunk>) return OnChunk(m);
        if constexpr (std::is_same_v<T, protocol::Commit>) return OnCommit(m);
        if constexpr (std::is_same_v<T, protocol::ReleaseStateQuery>) return OnReleaseState(m);
        if constexpr (std::is_same_v<T, protocol::UploadModel>) return OnUploadModel(m);
        if constexpr (std::is_same_v<T, protocol::AuditJobQuery>) return OnAuditJob(m);
        if constexpr (std::is_same_v<T, protocol::CanaryCommitment>) return OnCommitCanaries(m);
        if constexpr (std::is_same_v<T, protocol::CanaryReveal>) return OnRevealCanaries(m);
        if constexpr (std::is_same_v<T, protocol::Heartbeat>) {
          if (absl::Status s = Touch(); !s.ok()) return protocol::ErrorFromStatus(s);
          return protocol::HeartbeatReply{};
        }
      },
      request);
}

absl::Status SiteSession::Touch() {
  return storage_.TouchSite({site_id_, clock_(), certificate_serial_, certificate_not_after_unix_});
}

protocol::SiteResponse SiteSession::OnHello(const protocol::Hello& hello) {
  if (hello.protocol_version != protocol::kProtocolVersion) {
    spdlog::warn("site {}: refused protocol version {}", site_id_, hello.protocol_version);
    return protocol::ErrorFromStatus(
        absl::FailedPreconditionError("protocol version " + std::to_string(hello.protocol_version) +
                                      " is not supported; this coordinator speaks version " +
                                      std::to_string(protocol::kProtocolVersion)));
  }
  if (absl::Status s = Touch(); !s.ok()) return protocol::ErrorFromStatus(s);
  auto budgets = storage_.ListBudgets();
  if (!budgets.ok()) return protocol::ErrorFromStatus(budgets.status());
  protocol::Welcome welcome;
  welcome.site_id = site_id_;
  for (const BudgetRow& row : *budgets) {
    if (row.site_id != site_id_) continue;
    const DatasetDeclaration* dataset = config_.FindDataset(row.dataset);
    if (dataset == nullptr) continue;
    welcome.datasets.push_back(
        {row.dataset, dataset->schema.toml_text, row.limit_micros, row.spent_micros});
  }
  greeted_ = true;
  // The version string is the peer's choice: shown short (and escaped, as every message is).
  spdlog::info("site {}: connected (agent {})", site_id_,
               base::Truncated(hello.agent_version, kMaxAgentVersionShown));
  return welcome;
}

protocol::SiteResponse SiteSession::OnReserve(const protocol::Reserve& reserve) {
  if (!audit::IsValidReleaseId(reserve.release_id)) {
    return protocol::ErrorFromStatus(
        absl::InvalidArgumentError("release id must be 1-64 characters of [A-Za-z0-9_-]"));
  }
  if (config_.FindDataset(reserve.dataset) == nullptr) {
    return protocol::ErrorFromStatus(
        absl::NotFoundError("unknown dataset '" + reserve.dataset + "'"));
  }
  const privacy::ReleaseMode mode = reserve.mode;  // the codec refuses any other enumerant
  const bool model_only = mode == privacy::ReleaseMode::kModelOnly;
  if (reserve.rows <= 0) {
    return protocol::ErrorFromStatus(
        absl::InvalidArgumentError("a release needs a positive row count"));
  }
  const privacy::Charge& charge = reserve.charge;
  // A model-only release is the model's samples: its whole claim is the model's epsilon, and a
  // release charge would stand for a per-record mechanism it does not have.
  if (model_only ? charge.release_micros != 0 : charge.release_micros <= 0) {
    return protocol::ErrorFromStatus(absl::InvalidArgumentError(
        model_only ? "a model-only release charges no epsilon of its own (only its model's)"
                   : "a release needs a positive charge"));
  }
  if (mode == privacy::ReleaseMode::kCodes && !charge.model_private) {
    // Releasing a decoder trained in the clear would release the training data's imprint.
    return protocol::ErrorFromStatus(absl::FailedPreconditionError(
        "codes mode ships the decoder, so it needs a DP-trained model; use synthetic mode"));
  }
  if (model_only && !charge.model_private) {
    // Its rows are the model's samples: without DP training they carry the records' imprint
    // with nothing charged.
    return protocol::ErrorFromStatus(absl::FailedPreconditionError(
        "a model-only release samples its model, so the model must be trained with "
        "differential privacy"));
  }
  if (absl::Status valid = charge.Validate(); !valid.ok()) return protocol::ErrorFromStatus(valid);
  if (reserve.relation != privacy::kReleaseRelation) {
    // A release publishes its row count: only a replace-one claim is true of it (DESIGN §2.9).
    return protocol::ErrorFromStatus(absl::FailedPreconditionError(
        "the reservation does not state its claim under the replace-one relation (n public); "
        "update the agent"));
  }
  std::string mechanism_text;  // none for a model-only release
  if (model_only) {
    if (reserve.mechanism) {
      return protocol::ErrorFromStatus(absl::InvalidArgumentError(
          "a model-only release noises no code: its reservation states no mechanism"));
    }
  } else {
    if (!reserve.mechanism) {
      return protocol::ErrorFromStatus(absl::InvalidArgumentError(
          "the reservation states no mechanism; a release that noises codes must"));
    }
    auto mechanism = privacy::MetricMechanism::Create(*reserve.mechanism);
    if (!mechanism.ok()) {
      return protocol::ErrorFromStatus(absl::InvalidArgumentError(
          "invalid mechanism in the reservation: " + std::string(mechanism.status().message())));
    }
    auto per_row = privacy::EpsilonToChargeMicros(mechanism->RecordEpsilon());
    if (!per_row.ok() || charge.release_micros < *per_row) {
      return protocol::ErrorFromStatus(absl::InvalidArgumentError(
          "the charge does not cover the stated mechanism's per-row epsilon"));
    }
    mechanism_text = privacy::FormatMechanismParams(mechanism->params());
  }
  ReservationRequest request{site_id_, reserve.dataset, reserve.release_id, charge, reserve.rows,
                             mode,     clock_()};
  request.relation = privacy::NeighbouringRelationName(privacy::kReleaseRelation);
  request.mechanism = mechanism_text;
  auto result = storage_.Reserve(request);
  if (!result.ok()) return protocol::ErrorFromStatus(result.status());
  if (!result->granted) {
    spdlog::info("site {}: reservation {} refused, budget exhausted", site_id_, reserve.release_id);
    protocol::Error error = protocol::ErrorFromStatus(
        absl::ResourceExhaustedError("privacy budget exhausted for dataset " + reserve.dataset));
    error.remaining_micros = result->remaining_micros;
    return error;
  }
  spdlog::info("site {}: reserved {} ({} micro-epsilon){}", site_id_, reserve.release_id,
               charge.release_micros, result->replayed ? " [replay]" : "");
  return protocol::Reserved{reserve.release_id, result->remaining_micros, result->replayed,
                            result->charged_micros};
}

protocol::SiteResponse SiteSession::OnChunk(const protocol::UploadChunk& chunk) {
  if (chunk.rows.size() > protocol::kMaxChunkBytes) {
    return protocol::ErrorFromStatus(absl::InvalidArgumentError("chunk larger than the limit"));
  }
  auto record = OwnRelease(chunk.release_id);
  if (!record.ok()) return protocol::ErrorFromStatus(record.status());
  auto dataset = DeclaredDataset(*record);
  if (!dataset.ok()) return protocol::ErrorFromStatus(dataset.status());
  // Validate every row before anything is stored.
  auto rows = ValidateChunkRows(*record, **dataset, chunk);
  if (!rows.ok()) {
    spdlog::warn("site {}: chunk refused: {}", site_id_, std::string(rows.status().message()));
    return protocol::ErrorFromStatus(rows.status());
  }
  auto next = storage_.AppendChunk(site_id_, chunk.release_id, chunk.index, chunk.rows, *rows);
  if (!next.ok()) return protocol::ErrorFromStatus(next.status());
  return protocol::ChunkAck{chunk.release_id, *next};
}

absl::StatusOr<ReleaseRecord> SiteSession::OwnRelease(const std::string& release_id) {
  ASSIGN_OR_RETURN(std::optional<ReleaseRecord> record, storage_.GetRelease(release_id));
  // Another site's release looks exactly like an unknown one.
  if (!record || record->site_id != site_id_)
    return absl::NotFoundError("no reservation " + release_id + " for this site");
  return *std::move(record);
}

absl::StatusOr<const DatasetDeclaration*> SiteSession::DeclaredDataset(
    const ReleaseRecord& release) const {
  const DatasetDeclaration* dataset = config_.FindDataset(release.dataset);
  if (dataset == nullptr) return absl::InternalError("dataset no longer declared");
  return dataset;
}

absl::StatusOr<int64_t> SiteSession::ValidateChunkRows(const ReleaseRecord& release,
                                                       const DatasetDeclaration& dataset,
                                                       const protocol::UploadChunk& chunk) {
  const std::string source =
      "release " + chunk.release_id + " chunk " + std::to_string(chunk.index);
  int64_t rows = 0;
  size_t max_row_bytes = 0;
  if (release.mode == privacy::ReleaseMode::kCodes) {
    ASSIGN_OR_RETURN(const int latent_dim, StoredDecoderLatentDim(release, dataset));
    ASSIGN_OR_RETURN(const data::Matrix codes,
                     data::ParseMatrixCsv(chunk.rows, latent_dim, /*header=*/false, source));
    rows = codes.rows;
    max_row_bytes = data::MaxMatrixCsvRowBytes(latent_dim);
  } else {
    ASSIGN_OR_RETURN(
        const data::ReadReport report,
        data::CheckCsvTable(chunk.rows, dataset.schema, source, data::HeaderlessCsvFormat()));
    if (report.TotalClamped() > 0) {
      return absl::InvalidArgumentError("rows outside the federation schema's bounds");
    }
    rows = report.rows;
    max_row_bytes = data::MaxCsvRowBytes(dataset.schema);
  }
  // Padding (blank lines, long numerals, ignored columns) would let a reservation of a few rows
  // store megabytes: the bytes must fit the rows they carry (issue #12, F7).
  if (chunk.rows.size() > static_cast<size_t>(rows) * max_row_bytes) {
    return absl::InvalidArgumentError(
        source + ": " + std::to_string(chunk.rows.size()) + " bytes for " + std::to_string(rows) +
        " rows, more than such rows can take (" + std::to_string(max_row_bytes) + " bytes each)");
  }
  return rows;
}

absl::StatusOr<int> SiteSession::StoredDecoderLatentDim(const ReleaseRecord& release,
                                                        const DatasetDeclaration& dataset) {
  if (const auto it = latent_dims_.find(release.release_id); it != latent_dims_.end())
    return it->second;
  ASSIGN_OR_RETURN(const std::optional<std::string> model,
                   storage_.ModelBytes(release.charge.model_sha256));
  if (!model) {
    return absl::FailedPreconditionError("release " + release.release_id +
                                         " is in codes mode: upload its decoder before the codes");
  }
  ASSIGN_OR_RETURN(const DecoderClaims claims, ClaimsOf(release));
  ASSIGN_OR_RETURN(const int latent_dim, CheckPublishedDecoder(*model, dataset.schema, claims));
  latent_dims_[release.release_id] = latent_dim;
  return latent_dim;
}

absl::StatusOr<DecoderClaims> SiteSession::ClaimsOf(const ReleaseRecord& release) {
  DecoderClaims claims{release.dataset, ""};
  ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, storage_.GetAudit(release.release_id));
  if (audit) claims.audit_job = release.release_id;  // an audited release takes its job's id
  if (!release.mechanism.empty()) {
    ASSIGN_OR_RETURN(const privacy::MetricMechanismParams params,
                     privacy::ParseMechanismParams(release.mechanism));
    claims.latent_dim = params.dimension;
  }
  return claims;
}

protocol::SiteResponse SiteSession::OnUploadModel(const protocol::UploadModel& upload) {
  auto record = OwnRelease(upload.release_id);
  if (!record.ok()) return protocol::ErrorFromStatus(record.status());
  const ReleaseRecord& release = *record;
  auto dataset = DeclaredDataset(release);
  if (!dataset.ok()) return protocol::ErrorFromStatus(dataset.status());
  if (release.mode != privacy::ReleaseMode::kCodes) {
    return protocol::ErrorFromStatus(absl::FailedPreconditionError(
        "release " + upload.release_id + " is not a codes-mode release; it takes no model"));
  }
  // Cheap checks first: the hash names the model the reservation paid for.
  if (privacy::Sha256Hex(upload.model) != release.charge.model_sha256) {
    return protocol::ErrorFromStatus(absl::InvalidArgumentError(
        "the uploaded model's SHA-256 differs from the model named in the reservation"));
  }
  auto claims = ClaimsOf(release);
  if (!claims.ok()) return protocol::ErrorFromStatus(claims.status());
  auto latent_dim = CheckPublishedDecoder(upload.model, (*dataset)->schema, *claims);
  if (!latent_dim.ok()) {
    spdlog::warn("site {}: decoder of {} refused: {}", site_id_, upload.release_id,
                 std::string(latent_dim.status().message()));
    return protocol::ErrorFromStatus(latent_dim.status());
  }
  if (absl::Status s = storage_.StoreModel(site_id_, upload.release_id, upload.model); !s.ok())
    return protocol::ErrorFromStatus(s);
  latent_dims_[release.release_id] = *latent_dim;
  spdlog::info("site {}: stored the decoder of {} (latent dimension {})", site_id_,
               upload.release_id, *latent_dim);
  return protocol::ModelStored{upload.release_id};
}

protocol::SiteResponse SiteSession::OnAuditJob(const protocol::AuditJobQuery& query) {
  if (!audit::IsValidReleaseId(query.release_id)) {
    return protocol::ErrorFromStatus(
        absl::InvalidArgumentError("release id must be 1-64 characters of [A-Za-z0-9_-]"));
  }
  // The same grant Hello announces and Reserve charges: a budget row in the ledger.
  const DatasetDeclaration* dataset = config_.FindDataset(query.dataset);
  auto budgets = storage_.ListBudgets();
  if (!budgets.ok()) return protocol::ErrorFromStatus(budgets.status());
  const bool granted = std::any_of(budgets->begin(), budgets->end(), [&](const BudgetRow& b) {
    return b.site_id == site_id_ && b.dataset == query.dataset;
  });
  if (dataset == nullptr || !granted) {
    return protocol::ErrorFromStatus(
        absl::NotFoundError("no dataset '" + query.dataset + "' for this site"));
  }
  auto existing = storage_.GetAudit(query.release_id);
  if (!existing.ok()) return protocol::ErrorFromStatus(existing.status());
  if (existing->has_value() && (*existing)->site_id == site_id_) {
    const AuditRecord& a = **existing;
    if (a.dataset != query.dataset) {
      return protocol::ErrorFromStatus(absl::AlreadyExistsError(
          "audit " + query.release_id + " was opened for dataset " + a.dataset));
    }
    return protocol::AuditJob{a.release_id, a.canaries, static_cast<uint32_t>(a.count)};
  }
  if (dataset->audit_canaries == 0) return protocol::AuditJob{query.release_id, "", 0};
  const data::Schema& schema = dataset->schema;
  const std::string csv =
      data::FormatCsvTable(audit::MakeCanaries(schema, dataset->audit_canaries, *canary_random_),
                           schema, data::FormulaCells::kKeep);
  AuditRecord audit;
  audit.release_id = query.release_id;
  audit.site_id = site_id_;
  audit.dataset = query.dataset;
  audit.canaries = csv.substr(csv.find('\n') + 1);
  audit.count = dataset->audit_canaries;
  audit.created_unix = clock_();
  if (absl::Status s = storage_.IssueAudit(audit); !s.ok()) {
    // Another site's id looks like one already taken, and nothing of it is shown.
    if (s.code() == absl::StatusCode::kPermissionDenied)
      s = absl::AlreadyExistsError("release id " + query.release_id + " is taken");
    return protocol::ErrorFromStatus(s);
  }
  spdlog::info("site {}: {} canaries issued for {}", site_id_, audit.count, query.release_id);
  return protocol::AuditJob{audit.release_id, audit.canaries, static_cast<uint32_t>(audit.count)};
}

protocol::SiteResponse SiteSession::OnCommitCanaries(const protocol::CanaryCommitment& commitment) {
  if (absl::Status s = storage_.CommitAudit(site_id_, commitment.release_id, commitment.commitment);
      !s.ok()) {
    return protocol::ErrorFromStatus(s);
  }
  return protocol::AuditStateReply{commitment.release_id, AuditState::kCommitted};
}

protocol::SiteResponse SiteSession::OnRevealCanaries(const protocol::CanaryReveal& reveal) {
  if (absl::Status s = storage_.RevealAudit(site_id_, reveal.release_id, reveal.bits, reveal.salt,
                                            reveal.positions);
      !s.ok()) {
    spdlog::warn("site {}: reveal for {} refused: {}", site_id_, reveal.release_id,
                 std::string(s.message()));
    return protocol::ErrorFromStatus(s);
  }
  return protocol::AuditStateReply{reveal.release_id, AuditState::kRevealed};
}

protocol::SiteResponse SiteSession::OnCommit(const protocol::Commit& commit) {
  auto record = OwnRelease(commit.release_id);
  if (!record.ok()) return protocol::ErrorFromStatus(record.status());
  const ReleaseRecord& r = *record;
  auto content = storage_.ReleaseContent(commit.release_id);
  if (!content.ok()) return protocol::ErrorFromStatus(content.status());
  const std::string sha = privacy::Sha256Hex(*content);
  if (sha != commit.sha256 || r.rows_received != commit.row_count ||
      r.rows_declared != commit.row_count) {
    spdlog::warn("site {}: commit of {} refused: hash or row count mismatch", site_id_,
                 commit.release_id);
    return protocol::ErrorFromStatus(
        absl::InvalidArgumentError("commit does not match the uploaded data (sha256 or row count); "
                                   "the release stays uncommitted"));
  }
  if (absl::Status s = storage_.MarkCommitted(site_id_, commit.release_id, sha); !s.ok()) {
    return protocol::ErrorFromStatus(s);
  }
  spdlog::info("site {}: committed {} ({} rows)", site_id_, commit.release_id, commit.row_count);
  return protocol::Committed{};
}

protocol::SiteResponse SiteSession::OnReleaseState(const protocol::ReleaseStateQuery& query) {
  auto record = storage_.GetRelease(query.release_id);
  if (!record.ok()) return protocol::ErrorFromStatus(record.status());
  // Another site's release looks exactly like an unknown one.
  if (!record->has_value() || (*record)->site_id != site_id_) {
    return protocol::ReleaseState{query.release_id, protocol::ReleaseProgress::kUnknown, 0};
  }
  return protocol::ReleaseState{query.release_id, ReleaseProgressOf((*record)->status),
                                (*record)->next_chunk};
}

}  // namespace fedsyn::coordinator
