#include "coordinator/storage_backend.h"

#include <algorithm>

#include "common/audit/canary_protocol.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator {
namespace {

absl::StatusOr<ReleaseRecord> OwnedRelease(Tables& t, const std::string& site_id,
                                           const std::string& release_id) {
  ASSIGN_OR_RETURN(std::optional<ReleaseRecord> record, t.FindRelease(release_id));
  if (!record) return absl::NotFoundError("no reservation for release " + release_id);
  if (record->site_id != site_id) {
    // A valid certificate acting for another site: refused, and nothing is revealed about
    // the other site's release.
    return absl::PermissionDeniedError("release " + release_id + " belongs to another site");
  }
  return *record;
}

absl::StatusOr<AuditRecord> OwnedAudit(Tables& t, const std::string& site_id,
                                       const std::string& release_id) {
  ASSIGN_OR_RETURN(std::optional<AuditRecord> audit, t.FindAudit(release_id));
  // Another site's audit looks like none at all.
  if (!audit || audit->site_id != site_id)
    return absl::NotFoundError("release " + release_id + " has no audit");
  return *audit;
}

}  // namespace

absl::Status LedgerStorage::SetLimit(const std::string& site_id, const std::string& dataset,
                                     int64_t limit_micros) {
  if (limit_micros < 0) return absl::InvalidArgumentError("a limit cannot be negative");
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<BudgetRow> row, t.FindBudget(site_id, dataset));
    BudgetRow updated = row.value_or(BudgetRow{site_id, dataset, 0, 0});
    updated.limit_micros = limit_micros;
    return t.UpsertBudget(updated);
  });
}

namespace {

// The release a reservation records (before the model charge is decided).
ReleaseRecord RecordOf(const ReservationRequest& request) {
  ReleaseRecord record;
  record.release_id = request.release_id;
  record.site_id = request.site_id;
  record.dataset = request.dataset;
  record.mode = request.mode;
  record.charge = request.charge;
  record.rows_declared = request.rows;
  record.relation = request.relation;
  record.mechanism = request.mechanism;
  record.created_unix = request.now_unix;
  return record;
}

// The first field in which a reservation differs from the release it claims to replay, or "".
std::string ReservationMismatch(const ReleaseRecord& existing, const ReservationRequest& request) {
  const ReleaseRecord replay = RecordOf(request);
  if (existing.dataset != replay.dataset) return "dataset";
  if (existing.charge.release_micros != replay.charge.release_micros) return "charge";
  if (existing.mode != replay.mode) return "mode";
  if (existing.rows_declared != replay.rows_declared) return "row count";
  if (existing.charge.model_private != replay.charge.model_private) return "model privacy";
  if (existing.charge.model_sha256 != replay.charge.model_sha256) return "model";
  if (existing.charge.model_micros != replay.charge.model_micros) return "model epsilon";
  if (existing.charge.model_delta != replay.charge.model_delta) return "model delta";
  if (existing.relation != replay.relation) return "neighbouring relation";
  if (existing.mechanism != replay.mechanism) return "mechanism";
  return "";
}

}  // namespace

absl::StatusOr<ReservationResult> LedgerStorage::Reserve(const ReservationRequest& request) {
  if (absl::Status valid = request.charge.Validate(); !valid.ok()) {
    spdlog::warn("site {}: reservation {} refused: {}", request.site_id, request.release_id,
                 std::string(valid.message()));
    return valid;
  }
  ReservationResult result;
  RETURN_IF_ERROR(RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<BudgetRow> budget,
                     t.FindBudget(request.site_id, request.dataset));
    ASSIGN_OR_RETURN(std::optional<ReleaseRecord> existing, t.FindRelease(request.release_id));
    if (existing) {
      if (existing->site_id != request.site_id) {
        return absl::PermissionDeniedError("release id " + request.release_id +
                                           " belongs to another site");
      }
      if (const std::string differs = ReservationMismatch(*existing, request); !differs.empty()) {
        // A replay resends the same reservation; anything else reusing the id would spend
        // under another release's grant (another model, mode or size) and is refused.
        spdlog::warn("site {} reused release id {} with a different {}; refused", request.site_id,
                     request.release_id, differs);
        return absl::AlreadyExistsError("release id " + request.release_id +
                                        " was reserved with another " + differs);
      }
      result.granted = true;
      result.replayed = true;
      result.charged_micros = existing->charge.release_micros + existing->model_paid_micros;
      result.remaining_micros = budget ? budget->limit_micros - budget->spent_micros : 0;
      return absl::OkStatus();
    }
    if (!budget) {
      return absl::NotFoundError("site " + request.site_id + " has no budget for dataset " +
                                 request.dataset);
    }
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, t.FindAudit(request.release_id));
    if (audit && (audit->site_id != request.site_id || audit->dataset != request.dataset)) {
      return absl::FailedPreconditionError("release id " + request.release_id +
                                           " names another site's or dataset's audit");
    }
    if (audit && audit->state != AuditState::kCommitted) {
      return absl::FailedPreconditionError("release " + request.release_id +
                                           " is audited: commit to the canary choices first");
    }
    bool model_paid_before = false;
    if (request.charge.model_private) {
      ASSIGN_OR_RETURN(model_paid_before, t.ModelCharged(request.site_id, request.dataset,
                                                         request.charge.model_sha256));
    }
    ASSIGN_OR_RETURN(const int64_t model_part,
                     privacy::ModelPartDue(request.charge, model_paid_before));
    ASSIGN_OR_RETURN(const int64_t total, privacy::TotalDue(request.charge, model_part));
    const int64_t remaining = budget->limit_micros - budget->spent_micros;
    result.remaining_micros = std::max<int64_t>(remaining, 0);
    if (total > remaining) return absl::OkStatus();  // refused: granted = false
    budget->spent_micros += total;
    RETURN_IF_ERROR(t.UpsertBudget(*budget));
    ReleaseRecord record = RecordOf(request);
    record.model_paid_micros = model_part;
    RETURN_IF_ERROR(t.InsertRelease(record));
    result.granted = true;
    result.charged_micros = total;
    result.remaining_micros = budget->limit_micros - budget->spent_micros;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<uint32_t> LedgerStorage::AppendChunk(const std::string& site_id,
                                                    const std::string& release_id, uint32_t index,
                                                    const std::string& rows, int64_t row_count) {
  uint32_t next = 0;
  RETURN_IF_ERROR(RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(ReleaseRecord record, OwnedRelease(t, site_id, release_id));
    if (record.status == ReleaseStatus::kCommitted) {
      return absl::FailedPreconditionError("release " + release_id + " is already committed");
    }
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, t.FindAudit(release_id));
    if (audit && audit->state == AuditState::kIssued) {
      return absl::FailedPreconditionError("release " + release_id +
                                           " is audited: commit to the canary choices first");
    }
    next = record.next_chunk;
    if (index < record.next_chunk) {
      // A retransmission is the same bytes again (already durable); other bytes under an
      // acknowledged index would be silently dropped, so they are refused (issue #12, F11).
      ASSIGN_OR_RETURN(const std::optional<std::string> stored, t.FindChunk(release_id, index));
      if (!stored || *stored != rows) {
        return absl::AlreadyExistsError("chunk " + std::to_string(index) + " of " + release_id +
                                        " was already received with other content");
      }
      return absl::OkStatus();
    }
    if (index > record.next_chunk) {
      return absl::FailedPreconditionError("chunk " + std::to_string(index) +
                                           " out of order; expected " +
                                           std::to_string(record.next_chunk));
    }
    if (row_count < 0 || row_count > record.rows_declared - record.rows_received) {
      // Nothing beyond the reserved rows is stored (issue #12, F7).
      return absl::InvalidArgumentError("chunk " + std::to_string(index) + " of " + release_id +
                                        " goes beyond the " + std::to_string(record.rows_declared) +
                                        " rows reserved");
    }
    RETURN_IF_ERROR(t.InsertChunk(release_id, index, rows));
    record.next_chunk = index + 1;
    record.rows_received += row_count;
    next = record.next_chunk;
    return t.UpdateRelease(record);
  }));
  return next;
}

absl::StatusOr<std::string> LedgerStorage::ReleaseContent(const std::string& release_id) {
  return Read<std::string>([&](Tables& t) { return t.ConcatenatedChunks(release_id); });
}

absl::Status LedgerStorage::MarkCommitted(const std::string& site_id, const std::string& release_id,
                                          const std::string& sha256) {
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(ReleaseRecord record, OwnedRelease(t, site_id, release_id));
    if (record.status == ReleaseStatus::kCommitted) {
      return record.sha256 == sha256 ? absl::OkStatus()
                                     : absl::AlreadyExistsError("release " + release_id +
                                                                " was committed with another hash");
    }
    record.status = ReleaseStatus::kCommitted;
    record.sha256 = sha256;
    return t.UpdateRelease(record);
  });
}

absl::Status LedgerStorage::StoreModel(const std::string& site_id, const std::string& release_id,
                                       const std::string& model) {
  const std::string sha = privacy::Sha256Hex(model);
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(const ReleaseRecord record, OwnedRelease(t, site_id, release_id));
    if (record.mode != privacy::ReleaseMode::kCodes) {
      return absl::FailedPreconditionError("release " + release_id +
                                           " is not a codes-mode release; it takes no model");
    }
    if (sha != record.charge.model_sha256) {
      return absl::InvalidArgumentError(
          "the uploaded model's SHA-256 differs from the model named in reservation " + release_id);
    }
    ASSIGN_OR_RETURN(const std::optional<std::string> stored, t.FindModel(sha));
    if (stored) return absl::OkStatus();
    return t.InsertModel(sha, model);
  });
}

absl::StatusOr<std::optional<std::string>> LedgerStorage::ModelBytes(
    const std::string& model_sha256) {
  return Read<std::optional<std::string>>([&](Tables& t) { return t.FindModel(model_sha256); });
}

absl::Status LedgerStorage::IssueAudit(const AuditRecord& audit) {
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> existing, t.FindAudit(audit.release_id));
    if (existing) {
      if (existing->site_id != audit.site_id)
        return absl::PermissionDeniedError("audit " + audit.release_id +
                                           " belongs to another site");
      return absl::AlreadyExistsError("release " + audit.release_id + " has an audit");
    }
    ASSIGN_OR_RETURN(const std::optional<ReleaseRecord> release, t.FindRelease(audit.release_id));
    if (release) {
      // Canaries handed out after the reservation could not have been in the model it names.
      return absl::FailedPreconditionError(
          "release " + audit.release_id +
          " is already reserved: open the audit before training, under a new release id");
    }
    AuditRecord issued = audit;
    issued.state = AuditState::kIssued;
    return t.PutAudit(issued);
  });
}

absl::StatusOr<std::optional<AuditRecord>> LedgerStorage::GetAudit(const std::string& release_id) {
  return Read<std::optional<AuditRecord>>([&](Tables& t) { return t.FindAudit(release_id); });
}

absl::Status LedgerStorage::CommitAudit(const std::string& site_id, const std::string& release_id,
                                        const std::string& commitment) {
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(AuditRecord audit, OwnedAudit(t, site_id, release_id));
    if (audit.state != AuditState::kIssued) {
      return audit.commitment == commitment
                 ? absl::OkStatus()
                 : absl::AlreadyExistsError("release " + release_id + " has another commitment");
    }
    if (commitment.size() != 64 ||
        commitment.find_first_not_of("0123456789abcdef") != std::string::npos)
      return absl::InvalidArgumentError("a commitment is a lower-case hex SHA-256");
    audit.commitment = commitment;
    audit.state = AuditState::kCommitted;
    return t.PutAudit(audit);
  });
}

absl::Status LedgerStorage::RevealAudit(const std::string& site_id, const std::string& release_id,
                                        const audit::InclusionBits& bits, const std::string& salt,
                                        const std::vector<int64_t>& positions) {
  absl::Status verdict;
  RETURN_IF_ERROR(RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(AuditRecord audit, OwnedAudit(t, site_id, release_id));
    if (audit.state == AuditState::kRevealed && audit.bits == bits && audit.salt == salt &&
        audit.positions == positions)
      return absl::OkStatus();  // a replay
    if (audit.state != AuditState::kCommitted)
      return absl::FailedPreconditionError("the audit of " + release_id + " is " +
                                           audit::AuditStateName(audit.state) + ", not committed");
    ASSIGN_OR_RETURN(const ReleaseRecord record, OwnedRelease(t, site_id, release_id));
    if (record.status != ReleaseStatus::kCommitted)
      return absl::FailedPreconditionError("reveal only after the release is committed");
    verdict = audit::CheckReveal(audit.commitment, bits, salt, audit.count);
    if (verdict.ok() && record.mode == privacy::ReleaseMode::kModelOnly) {
      // The canaries trained the model; no row of its samples is theirs.
      if (!positions.empty()) {
        verdict = absl::InvalidArgumentError(
            "a model-only release has no canary rows: its reveal names no positions");
      }
    } else if (verdict.ok()) {
      // The salt fixes where the canaries had to go; positions named otherwise are refused.
      const std::vector<int64_t> rows =
          audit::CanaryPositions(salt, record.rows_received, static_cast<int64_t>(bits.size()));
      const bool fits = rows.size() == bits.size();  // one included canary per pair
      if (!fits || positions != rows) {
        verdict = absl::InvalidArgumentError(
            "the revealed canary positions are not those the committed salt determines for a "
            "release of " +
            std::to_string(record.rows_received) + " rows");
      }
    }
    audit.bits = bits;
    audit.salt = salt;
    audit.positions = positions;
    audit.state = verdict.ok() ? AuditState::kRevealed : AuditState::kInvalid;
    return t.PutAudit(audit);  // an invalid reveal is recorded, not rolled back
  }));
  return verdict;
}

absl::Status LedgerStorage::RecordVerdict(const AuditVerdictRecord& verdict) {
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, t.FindAudit(verdict.release_id));
    if (!audit || audit->state != AuditState::kRevealed)
      return absl::FailedPreconditionError("release " + verdict.release_id +
                                           " has no revealed audit to judge");
    return t.PutVerdict(verdict);
  });
}

absl::StatusOr<std::optional<AuditVerdictRecord>> LedgerStorage::GetVerdict(
    const std::string& release_id) {
  return Read<std::optional<AuditVerdictRecord>>(
      [&](Tables& t) { return t.FindVerdict(release_id); });
}

absl::Status LedgerStorage::Approve(const ApprovalRecord& approval) {
  if (approval.approved_by.empty() || approval.reason.empty())
    return absl::InvalidArgumentError("an approval names who approved and why");
  return RunInTransaction([&](Tables& t) -> absl::Status {
    ASSIGN_OR_RETURN(const std::optional<ReleaseRecord> release,
                     t.FindRelease(approval.release_id));
    if (!release) return absl::NotFoundError("no release " + approval.release_id);
    if (release->status != ReleaseStatus::kCommitted)
      return absl::FailedPreconditionError("release " + approval.release_id +
                                           " is not committed; only committed releases export");
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, t.FindAudit(approval.release_id));
    if (audit && audit->state != AuditState::kRevealed) {
      // Its canary rows cannot be told from its records: approving it would export them.
      return absl::FailedPreconditionError(
          "release " + approval.release_id + " holds canaries whose positions are not known (" +
          audit::AuditStateName(audit->state) + " audit); it cannot be approved");
    }
    ASSIGN_OR_RETURN(const std::optional<ApprovalRecord> existing,
                     t.FindApproval(approval.release_id));
    if (existing)
      return absl::AlreadyExistsError("release " + approval.release_id + " was approved by " +
                                      existing->approved_by);
    return t.InsertApproval(approval);
  });
}

absl::StatusOr<std::optional<ApprovalRecord>> LedgerStorage::GetApproval(
    const std::string& release_id) {
  return Read<std::optional<ApprovalRecord>>([&](Tables& t) { return t.FindApproval(release_id); });
}

absl::StatusOr<std::optional<ReleaseRecord>> LedgerStorage::GetRelease(
    const std::string& release_id) {
  return Read<std::optional<ReleaseRecord>>([&](Tables& t) { return t.FindRelease(release_id); });
}

absl::Status LedgerStorage::TouchSite(const SiteSeen& seen) {
  return RunInTransaction([&](Tables& t) { return t.TouchSite(seen); });
}

}  // namespace fedsyn::coordinator
