#include "coordinator/export.h"

#include "common/data/csv.h"
#include "coordinator/decoder.h"

namespace fedsyn::coordinator {

absl::StatusOr<std::string> ExportPooledCsv(Storage& storage, const CoordinatorConfig& config,
                                            const std::string& dataset, bool with_site_column,
                                            privacy::RandomSource& rng) {
  const DatasetDeclaration* declared = config.FindDataset(dataset);
  if (declared == nullptr) return absl::NotFoundError("unknown dataset '" + dataset + "'");
  std::string out;
  if (with_site_column) out += "site,";
  for (size_t c = 0; c < declared->schema.columns.size(); ++c) {
    out += (c ? "," : "") + data::EscapeCsvField(declared->schema.columns[c].name, ',');
  }
  out += '\n';
  ASSIGN_OR_RETURN(const std::vector<ReleaseRecord> releases, storage.ListReleases());
  for (const ReleaseRecord& r : releases) {
    if (r.dataset != dataset || r.status != ReleaseStatus::kCommitted) continue;
    ASSIGN_OR_RETURN(std::string content, storage.ReleaseContent(r.release_id));
    if (r.mode == "codes") {
      ASSIGN_OR_RETURN(const std::optional<std::string> model, storage.ModelBytes(r.model_sha256));
      if (!model)
        return absl::DataLossError("the decoder of release " + r.release_id + " is missing");
      ASSIGN_OR_RETURN(content, DecodeCodesRows(*model, content, declared->schema, rng));
    }
    if (!with_site_column) {
      out += content;
      continue;
    }
    const std::string prefix = data::EscapeCsvField(r.site_id, ',') + ",";
    size_t start = 0;
    while (start < content.size()) {
      const size_t end = content.find('\n', start);
      const size_t stop = end == std::string::npos ? content.size() : end;
      out += prefix;
      out.append(content, start, stop - start);
      out += '\n';
      start = stop + 1;
    }
  }
  return out;
}

}  // namespace fedsyn::coordinator
