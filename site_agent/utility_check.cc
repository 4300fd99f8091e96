#include "site_agent/utility_check.h"

#include "absl/strings/str_format.h"
#include "common/data/table_io.h"

namespace fedsyn::site {

absl::StatusOr<UtilityCheck> CheckUtility(const UtilityCheckRequest& request) {
  ASSIGN_OR_RETURN(const data::Schema schema, data::Schema::LoadFile(request.schema_path));
  if (!schema.label_index) {
    return absl::InvalidArgumentError("the schema " + request.schema_path +
                                      " declares no label to train a classifier on");
  }
  ASSIGN_OR_RETURN(const data::ReadResult synthetic,
                   data::ReadCsvTable(request.synthetic_csv, schema, data::OutputCsvFormat()));
  ASSIGN_OR_RETURN(const data::Table real, data::ReadPooledCsvTables(request.real_csvs, schema));
  ASSIGN_OR_RETURN(const data::Table test, data::ReadPooledCsvTables(request.test_csvs, schema));
  UtilityCheck check;
  check.synthetic_rows = synthetic.table.num_rows();
  check.real_rows = real.num_rows();
  check.test_rows = test.num_rows();
  check.label = schema.columns[static_cast<size_t>(*schema.label_index)].name;
  ASSIGN_OR_RETURN(check.synthetic, eval::MeasureTableUtility(synthetic.table, real, test, schema));
  ASSIGN_OR_RETURN(check.real, eval::LogisticScore(real, test, schema));
  return check;
}

std::string UtilityCheck::Headline() const {
  return absl::StrFormat(
      "trained on these %d synthetic rows, a logistic regression predicts '%s' on %d held-out "
      "real rows with accuracy %.3f, AUC %.3f (trained on %d real rows: %.3f, %.3f; majority "
      "class: %.3f)",
      synthetic_rows, label, test_rows, synthetic.accuracy, synthetic.auc, real_rows, real.accuracy,
      real.auc, synthetic.majority_accuracy);
}

nlohmann::json UtilityCheck::ToJson() const {
  nlohmann::json bounds = nlohmann::json::array();
  for (const eval::BoundShare& b : synthetic.bounds)
    bounds.push_back({{"column", b.column}, {"real", b.real}, {"synthetic", b.synthetic}});
  return {{"format", "fedsyn-utility-check"},
          {"version", 1},
          {"label", label},
          {"probe",
           "logistic regression on one-hot codes (32 equal-width bins per numeric column); a "
           "label of more than two categories as its first category against the rest"},
          {"rows", {{"synthetic", synthetic_rows}, {"real", real_rows}, {"test", test_rows}}},
          {"trained_on_synthetic", {{"accuracy", synthetic.accuracy}, {"auc", synthetic.auc}}},
          {"trained_on_real", {{"accuracy", real.accuracy}, {"auc", real.auc}}},
          {"majority_class_accuracy", synthetic.majority_accuracy},
          {"tvd_1way", {{"mean", synthetic.mean_tvd_1way}, {"max", synthetic.max_tvd_1way}}},
          {"tvd_2way", {{"mean", synthetic.mean_tvd_2way}, {"max", synthetic.max_tvd_2way}}},
          {"bound_shares", bounds},
          {"worst_bound_excess", synthetic.worst_bound_excess}};
}

}  // namespace fedsyn::site
