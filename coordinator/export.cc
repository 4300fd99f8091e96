#include "coordinator/export.h"

#include "common/data/csv.h"
#include "common/privacy/distributions.h"
#include "coordinator/decoder.h"
#include "coordinator/release_gate.h"

namespace fedsyn::coordinator {

absl::StatusOr<std::string> ReleaseRecordsCsv(Storage& storage, const DatasetDeclaration& dataset,
                                              const ReleaseRecord& release,
                                              privacy::RandomSource& rng) {
  ASSIGN_OR_RETURN(std::string content, storage.ReleaseContent(release.release_id));
  if (release.mode != privacy::ReleaseMode::kCodes) return content;
  ASSIGN_OR_RETURN(const std::optional<std::string> model,
                   storage.ModelBytes(release.charge.model_sha256));
  if (!model)
    return absl::DataLossError("the decoder of release " + release.release_id + " is missing");
  return DecodeCodesRows(*model, content, dataset.schema, release.mechanism, rng);
}

std::string WithoutRows(const std::string& rows, const std::vector<int64_t>& positions) {
  std::string out;
  size_t next = 0;  // index into positions
  int64_t line = 0;
  for (size_t start = 0; start < rows.size(); ++line) {
    const size_t end = std::min(rows.find('\n', start), rows.size());
    if (next < positions.size() && positions[next] == line) {
      ++next;
    } else {
      out.append(rows, start, end - start);
      out += '\n';
    }
    start = end + 1;
  }
  return out;
}

absl::StatusOr<PooledExport> ExportPooledCsv(Storage& storage, const CoordinatorConfig& config,
                                             const std::string& dataset, bool with_site_column,
                                             privacy::RandomSource& rng, data::FormulaCells cells) {
  const DatasetDeclaration* declared = config.FindDataset(dataset);
  if (declared == nullptr) return absl::NotFoundError("unknown dataset '" + dataset + "'");
  PooledExport pooled;
  std::string& out = pooled.csv;
  if (with_site_column) out += "site,";
  for (size_t c = 0; c < declared->schema.columns.size(); ++c) {
    const std::string& name = declared->schema.columns[c].name;
    out +=
        (c ? "," : "") +
        data::EscapeCsvField(
            cells == data::FormulaCells::kNeutralise ? data::NeutraliseFormula(name) : name, ',');
  }
  out += '\n';
  // Rows of every exported release, pooled and then put in a secure random order: the order in
  // which sites released, and within a release anything an order could still say, stays out.
  std::vector<std::string> rows;
  ASSIGN_OR_RETURN(const std::vector<ReleaseRecord> releases, storage.ListReleases());
  for (const ReleaseRecord& r : releases) {
    if (r.dataset != dataset || r.status != ReleaseStatus::kCommitted) continue;
    ASSIGN_OR_RETURN(const GateDecision gate, DecideGate(storage, r));
    if (!gate.exportable()) {
      pooled.held_back.push_back(r.release_id);
      continue;
    }
    ASSIGN_OR_RETURN(std::string content, ReleaseRecordsCsv(storage, *declared, r, rng));
    ASSIGN_OR_RETURN(const std::optional<AuditRecord> audit, storage.GetAudit(r.release_id));
    if (audit && audit->state == AuditState::kRevealed) {
      // Canaries are the coordinator's own probes, never data: their rows stay out.
      const std::vector<int64_t> positions = ReleasedCanaryRows(r, *audit);
      content = WithoutRows(content, positions);
      pooled.canary_rows_removed += static_cast<int64_t>(positions.size());
    }
    if (cells == data::FormulaCells::kNeutralise) {
      ASSIGN_OR_RETURN(content, data::NeutraliseFormulas(content, ',', r.release_id));
    }
    pooled.exported.push_back(r.release_id);
    const std::string prefix =
        with_site_column ? data::EscapeCsvField(r.site_id, ',') + "," : std::string();
    size_t start = 0;
    while (start < content.size()) {
      const size_t end = content.find('\n', start);
      const size_t stop = end == std::string::npos ? content.size() : end;
      rows.push_back(prefix + content.substr(start, stop - start));
      start = stop + 1;
    }
  }
  privacy::Shuffle(rng, rows);
  for (const std::string& row : rows) out.append(row).append("\n");
  return pooled;
}

}  // namespace fedsyn::coordinator
