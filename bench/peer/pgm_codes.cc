// Hands a table to private-pgm and takes its synthetic rows back (issue #15's comparison of the
// marginal generator with MST and AIM), through the marginal generator's own discretisation so
// that both sides model exactly the same codes:
//
//   fedsyn_bench_pgm_codes encode --input adult.data --schema adult.schema.toml --out-dir D
//       writes D/codes.csv (header of attribute names, one integer code per cell) and
//       D/domain.json ({"attribute": number of codes}), private-pgm's Dataset.load format;
//   fedsyn_bench_pgm_codes decode --codes synth.csv --schema adult.schema.toml --out synth-rows.csv
//       turns codes back into records (Discretizer::Decode: a bound, a uniform value of the
//       bin, the category or missing) in the CSV form fedsyn writes.
//
// The bins are MarginalOptions' fine codes (interior_bins, per_value_limit), chosen from the
// schema alone. Bench code: not part of any release path.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/data/table_io.h"
#include "common/privacy/random.h"
#include "common/synth/discretizer.h"
#include "common/synth/marginal_model.h"
#include "nlohmann/json.hpp"

namespace {

using fedsyn::data::Schema;
using fedsyn::synth::Discretizer;

int Fail(const std::string& what) {
  std::fprintf(stderr, "fedsyn_bench_pgm_codes: %s\n", what.c_str());
  return 1;
}

int Encode(const Schema& schema, const Discretizer& discretizer, const std::string& input,
           const std::string& out_dir) {
  auto read = fedsyn::data::ReadCsvTable(input, schema);
  if (!read.ok()) return Fail(read.status().ToString());
  auto codes = discretizer.Encode(read->table);
  if (!codes.ok()) return Fail(codes.status().ToString());
  const auto& attributes = discretizer.attributes();
  nlohmann::ordered_json domain;
  std::string csv;
  for (size_t a = 0; a < attributes.size(); ++a) {
    domain[attributes[a].name] = attributes[a].size;
    csv += (a == 0 ? "" : ",") + attributes[a].name;
  }
  csv += "\n";
  const size_t rows = read->table.rows.size();
  for (size_t r = 0; r < rows; ++r) {
    for (size_t a = 0; a < attributes.size(); ++a) {
      csv += (a == 0 ? "" : ",") + std::to_string((*codes)[a][r]);
    }
    csv += "\n";
  }
  if (auto st = fedsyn::data::WriteFileAtomically(out_dir + "/codes.csv", csv); !st.ok()) {
    return Fail(st.ToString());
  }
  if (auto st = fedsyn::data::WriteFileAtomically(out_dir + "/domain.json", domain.dump() + "\n");
      !st.ok()) {
    return Fail(st.ToString());
  }
  std::printf("encoded %zu rows, %zu attributes into %s\n", rows, attributes.size(),
              out_dir.c_str());
  return 0;
}

// Reads private-pgm's CSV of codes (a header naming every attribute, in any order; integer
// cells, parsed by data::ParseMatrixCsv), decodes every row and writes the records.
int Decode(const Schema& schema, const Discretizer& discretizer, const std::string& codes_path,
           const std::string& out) {
  auto text = fedsyn::data::ReadFileToString(codes_path);
  if (!text.ok()) return Fail(text.status().ToString());
  const auto& attributes = discretizer.attributes();
  const size_t header_end = text->find('\n');
  if (header_end == std::string::npos) return Fail(codes_path + ": no header line");
  // position in the file's header -> attribute
  std::vector<int> attribute_of;
  std::stringstream header(text->substr(0, header_end));
  std::string name;
  while (std::getline(header, name, ',')) {
    int found = -1;
    for (size_t a = 0; a < attributes.size(); ++a) {
      if (attributes[a].name == name) found = static_cast<int>(a);
    }
    if (found < 0) return Fail(codes_path + ": unknown attribute '" + name + "'");
    attribute_of.push_back(found);
  }
  if (attribute_of.size() != attributes.size()) {
    return Fail(codes_path + ": the header does not name every attribute once");
  }
  auto codes = fedsyn::data::ParseMatrixCsv(std::string_view(*text).substr(header_end + 1),
                                            static_cast<int64_t>(attributes.size()),
                                            /*header=*/false, codes_path);
  if (!codes.ok()) return Fail(codes.status().ToString());
  fedsyn::privacy::SecureRandom rng;
  fedsyn::data::Table table;
  for (int64_t r = 0; r < codes->rows; ++r) {
    fedsyn::data::Row row(discretizer.num_columns());
    for (size_t position = 0; position < attribute_of.size(); ++position) {
      const int a = attribute_of[position];
      const float value = codes->Row(r)[position];
      const int code = static_cast<int>(value);
      if (static_cast<float>(code) != value || code < 0 || code >= attributes[a].size) {
        return Fail(codes_path + ": row " + std::to_string(r + 1) + ": code outside " +
                    attributes[a].name + "'s domain");
      }
      row[attributes[a].column] = discretizer.Decode(a, code, rng);
    }
    table.rows.push_back(std::move(row));
  }
  const std::string csv =
      fedsyn::data::FormatCsvTable(table, schema, fedsyn::data::FormulaCells::kNeutralise);
  if (auto st = fedsyn::data::WriteFileAtomically(out, csv); !st.ok()) return Fail(st.ToString());
  std::printf("decoded %zu rows into %s\n", table.rows.size(), out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"private-pgm's codes of a table, and back"};
  app.require_subcommand(1);
  std::string schema_path, input, out_dir, codes, out;
  fedsyn::synth::MarginalOptions options;
  auto* encode = app.add_subcommand("encode", "table -> codes.csv + domain.json");
  encode->add_option("--input", input)->required()->check(CLI::ExistingFile);
  encode->add_option("--schema", schema_path)->required()->check(CLI::ExistingFile);
  encode->add_option("--out-dir", out_dir)->required()->check(CLI::ExistingDirectory);
  auto* decode = app.add_subcommand("decode", "codes -> records");
  decode->add_option("--codes", codes)->required()->check(CLI::ExistingFile);
  decode->add_option("--schema", schema_path)->required()->check(CLI::ExistingFile);
  decode->add_option("--out", out)->required();
  CLI11_PARSE(app, argc, argv);

  auto schema = Schema::LoadFile(schema_path);
  if (!schema.ok()) return Fail(schema.status().ToString());
  auto discretizer =
      Discretizer::FromSchema(*schema, options.interior_bins, options.per_value_limit);
  if (!discretizer.ok()) return Fail(discretizer.status().ToString());
  if (encode->parsed()) return Encode(*schema, *discretizer, input, out_dir);
  return Decode(*schema, *discretizer, codes, out);
}
