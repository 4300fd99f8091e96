#include "site_agent/pipeline.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "common/data/idx.h"
#include "common/data/table_io.h"
#include "common/model/model_bundle.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::site {
namespace {

using ::fedsyn::testing::DemoDataDir;
using ::fedsyn::testing::SeededRandom;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string HeartSchemaPath() {
  return DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
}
std::string HeartFile(const std::string& site) {
  return DemoDataDir() + "/heart_disease_uci/processed." + site + ".data";
}

TrainRequest HeartTrainRequest(const std::string& site, const std::string& model_out) {
  TrainRequest request;
  request.input_csv = HeartFile(site);
  request.schema_path = HeartSchemaPath();
  request.model_out = model_out;
  request.train.max_epochs = 40;
  request.train.learning_rate = 3e-3;
  request.seed = 1;
  return request;
}

ReleaseRequest HeartReleaseRequest(const std::string& model, const std::string& site,
                                   const std::string& out) {
  ReleaseRequest request;
  request.model_path = model;
  request.input_csv = HeartFile(site);
  request.output = out;
  request.mechanism.epsilon_per_unit = 0.5;
  request.mechanism.clip_radius = 3.0;
  request.allow_nonprivate_model = true;
  return request;
}

// Two epochs on the VA file, without DP: enough for the refusals that concern the model's kind.
void TrainQuickModelInTheClear(const std::string& model_out, SeededRandom& rng) {
  base::NullProgress progress;
  TrainRequest train = HeartTrainRequest("va", model_out);
  train.train.max_epochs = 2;
  ASSERT_TRUE(RunTrain(train, progress, rng).ok());
}

// Spearman's rank correlation between a row's position and column `c` (average ranks for ties).
double PositionRankCorrelation(const data::Table& table, size_t c) {
  const size_t n = table.rows.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  auto value = [&](size_t i) { return table.rows[i][c].value_or(-1e300); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value(a) < value(b); });
  std::vector<double> rank(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && value(order[j + 1]) == value(order[i])) ++j;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = (static_cast<double>(i + j)) / 2.0;
    i = j + 1;
  }
  double mean_rank = 0, mean_pos = (static_cast<double>(n) - 1) / 2;
  for (double r : rank) mean_rank += r / static_cast<double>(n);
  double cov = 0, var_rank = 0, var_pos = 0;
  for (size_t i = 0; i < n; ++i) {
    cov += (rank[i] - mean_rank) * (static_cast<double>(i) - mean_pos);
    var_rank += std::pow(rank[i] - mean_rank, 2);
    var_pos += std::pow(static_cast<double>(i) - mean_pos, 2);
  }
  return cov / std::sqrt(var_rank * var_pos);
}

ReleaseRequest SortedRequest(const std::string& model, const std::string& csv,
                             const std::string& dir) {
  ReleaseRequest request = HeartReleaseRequest(model, "cleveland", dir + "/out.csv");
  request.input_csv = csv;
  return request;
}

// A hospital export sorted by age: the release's record order must not follow it. Under a
// uniformly random order Spearman's rho is approximately N(0, 1/(n-1)); |rho| < 4.89/sqrt(n-1)
// has size 1e-6. Power: the input order itself (rho ~ 1) fails the same bound.
TEST(Pipeline, RecordOrderDoesNotFollowTheInputsSortOrder) {
  const std::string dir = testing::ScratchDir("pipeline_order");
  std::ifstream in(HeartFile("cleveland"));
  std::vector<std::pair<double, std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.emplace_back(std::stod(line.substr(0, line.find(','))), line);
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::string sorted_csv = dir + "/sorted_by_age.csv";
  {
    std::ofstream out(sorted_csv);
    for (const auto& [age, line] : lines) out << line << "\n";
  }
  SeededRandom rng(7);
  const std::string model = dir + "/m.model";
  TrainQuickModelInTheClear(model, rng);
  auto schema = data::Schema::LoadFile(HeartSchemaPath());
  ASSERT_TRUE(schema.ok());
  auto as_read = data::ReadCsvTable(sorted_csv, *schema);
  ASSERT_TRUE(as_read.ok());
  const double bound = 4.89 / std::sqrt(static_cast<double>(lines.size()) - 1);
  EXPECT_GT(PositionRankCorrelation(as_read->table, 0), bound) << "the power check";
  auto prepared = PrepareRelease(SortedRequest(model, sorted_csv, dir), rng);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->table->table.num_rows(), static_cast<int64_t>(lines.size()));
  EXPECT_LT(std::fabs(PositionRankCorrelation(prepared->table->table, 0)), bound);
}

// The whole site pipeline on each of the four hospital files: the synthetic rows satisfy the
// schema (re-read under it, with every bound and category checked) and the manifest states
// the guarantee and matches the files.
// Cleveland with a person identifier in front: persons p0..p49 own 3 rows each (the first
// 150), every later row is a person of its own (153 more). Under max_rows_per_person = 2.
struct PersonFiles {
  std::string csv, schema;
};
PersonFiles WritePersonFiles(const std::string& dir, bool with_a_missing_id = false) {
  std::ifstream in(HeartFile("cleveland"));
  std::ostringstream csv;
  int i = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::string id = i < 150 ? "p" + std::to_string(i / 3) : "q" + std::to_string(i);
    if (with_a_missing_id && i == 7) id = "?";
    csv << id << "," << line << "\n";
    ++i;
  }
  std::ifstream schema_in(HeartSchemaPath());
  std::string toml((std::istreambuf_iterator<char>(schema_in)), std::istreambuf_iterator<char>());
  toml.replace(toml.find("[dataset]\n"), 10,
               "[dataset]\nperson_id = \"pid\"\nmax_rows_per_person = 2\n");
  toml.replace(toml.find("[[column]]"), 10,
               "[[column]]\nname = \"pid\"\ntype = \"ignored\"\n\n[[column]]");
  PersonFiles files{dir + (with_a_missing_id ? "/persons-missing.csv" : "/persons.csv"),
                    dir + "/persons.schema.toml"};
  std::ofstream(files.csv) << csv.str();
  std::ofstream(files.schema) << toml;
  return files;
}

TEST(Pipeline, APersonContributesExactlyMaxRowsPerPersonRows) {
  const std::string dir = testing::ScratchDir("pipeline_persons");
  const PersonFiles files = WritePersonFiles(dir);
  auto schema = data::Schema::LoadFile(files.schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto read = data::ReadCsvTable(files.csv, *schema);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->person_ids.size(), 303u);
  EXPECT_EQ(read->person_ids[4], "p1");
  SeededRandom rng(3);
  auto units = BoundContributions(*read, *schema, rng);
  ASSERT_TRUE(units.ok()) << units.status();
  EXPECT_EQ(units->count, 50 + 153);
  EXPECT_EQ(units->rows_dropped, 50) << "one of each 3-row person's rows";
  ASSERT_EQ(read->table.num_rows(), 2 * (50 + 153)) << "exactly 2 rows per person";
  std::map<int64_t, int> rows_of;
  for (const int64_t u : units->unit_of_row) ++rows_of[u];
  for (const auto& [unit, rows] : rows_of) EXPECT_EQ(rows, 2) << unit;
  EXPECT_TRUE(read->person_ids.empty()) << "the identifiers go no further";
  // A row without its person is refused.
  const PersonFiles missing = WritePersonFiles(dir, /*with_a_missing_id=*/true);
  auto damaged = data::ReadCsvTable(missing.csv, *schema);
  ASSERT_TRUE(damaged.ok()) << damaged.status();
  EXPECT_EQ(BoundContributions(*damaged, *schema, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// DP-SGD samples and clips persons, delta counts persons, and the release states a per-person
// epsilon of L = 2 rows' worth; the identifier column is never written.
TEST(Pipeline, WithAPersonIdentifierTheGuaranteeIsPerPerson) {
  const std::string dir = testing::ScratchDir("pipeline_persons_e2e");
  const PersonFiles files = WritePersonFiles(dir);
  SeededRandom rng(4);
  base::NullProgress progress;
  TrainRequest train;
  train.input_csv = files.csv;
  train.schema_path = files.schema;
  train.model_out = dir + "/m.model";
  train.seed = 1;
  model::DpSgdOptions dp;
  dp.target_epsilon = 3;
  dp.expected_batch_size = 32;
  dp.epochs = 1;
  train.dp = dp;
  auto trained = RunTrain(train, progress, rng);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->persons, 203);
  EXPECT_EQ(trained->rows, 406);
  ASSERT_TRUE(trained->dp.has_value());
  EXPECT_EQ(trained->dp->units, 203) << "the accountant counts persons";
  EXPECT_DOUBLE_EQ(trained->dp->sampling_rate, 32.0 / 203);
  EXPECT_EQ(trained->dp->delta, 1e-6);
  EXPECT_LE(trained->dp->epsilon, 3.0);

  ReleaseRequest release = HeartReleaseRequest(train.model_out, "cleveland", dir + "/out.csv");
  release.input_csv = files.csv;
  release.allow_nonprivate_model = false;
  auto summary = RunRelease(release, rng);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 406);
  std::ifstream manifest_in(summary->manifest_path);
  const Json manifest = Json::parse(manifest_in);
  const Json& guarantee = manifest["guarantee"];
  EXPECT_THAT(guarantee["unit"].get<std::string>(), HasSubstr("person"));
  EXPECT_EQ(guarantee["rows_per_unit"], 2);
  EXPECT_DOUBLE_EQ(guarantee["epsilon_release"].get<double>(),
                   2 * guarantee["epsilon_codes_per_row"].get<double>());
  EXPECT_EQ(manifest["site_only"]["rows_dropped_beyond_max_rows_per_person"], 50);
  std::ifstream out(dir + "/out.csv");
  std::string header, first;
  std::getline(out, header);
  std::getline(out, first);
  EXPECT_EQ(header.substr(0, 4), "pid,");
  EXPECT_EQ(first.substr(0, 1), ",") << "the identifier is never written";
}

TEST(Pipeline, SynthesizesEveryHospitalFileWithinTheSchema) {
  const std::string dir = testing::ScratchDir("pipeline_sites");
  auto schema = data::Schema::LoadFile(HeartSchemaPath());
  ASSERT_TRUE(schema.ok());
  for (const std::string site : {"cleveland", "hungarian", "switzerland", "va"}) {
    SeededRandom rng(2);
    base::NullProgress progress;
    const std::string model = dir + "/" + site + ".model";
    ASSERT_TRUE(RunTrain(HeartTrainRequest(site, model), progress, rng).ok()) << site;
    auto summary = RunRelease(HeartReleaseRequest(model, site, dir + "/" + site + ".csv"), rng);
    ASSERT_TRUE(summary.ok()) << site << ": " << summary.status();

    auto synthetic =
        data::ReadCsvTable(dir + "/" + site + ".csv", *schema, data::OutputCsvFormat());
    ASSERT_TRUE(synthetic.ok()) << site << ": " << synthetic.status();
    auto real = data::ReadCsvTable(HeartFile(site), *schema);
    EXPECT_EQ(synthetic->report.rows, real->report.rows);

    const Json manifest = Json::parse(*data::ReadFileToString(summary->manifest_path));
    const Json& g = manifest["guarantee"];
    EXPECT_EQ(g["epsilon_model"], "not private");
    EXPECT_EQ(g["epsilon_total"], "not private");
    EXPECT_EQ(g["model_private"], false);
    const double expected_eps = 0.5 * (2 * 3.0 + std::sqrt(8.0) * std::ldexp(1.0, -11));
    EXPECT_DOUBLE_EQ(g["epsilon_release"].get<double>(), expected_eps);
    EXPECT_EQ(g["epsilon_release_micros"].get<int64_t>(),
              *privacy::EpsilonToChargeMicros(expected_eps));
    EXPECT_EQ(manifest["rows"], real->report.rows);
    EXPECT_EQ(manifest["outputs"][0]["sha256"],
              *privacy::Sha256HexOfFile(dir + "/" + site + ".csv"));
    EXPECT_EQ(manifest["site_only"]["input"]["sha256"], *privacy::Sha256HexOfFile(HeartFile(site)));
    EXPECT_EQ(manifest["mechanism"]["latent_dim"], 8);
    // The data-dependent training outcome stays in site_only; the model section has parameters
    // only.
    EXPECT_TRUE(manifest["site_only"]["training"].contains("loss_per_epoch"));
    EXPECT_FALSE(manifest["model"]["training"].contains("loss_per_epoch"));
  }
}

TEST(Pipeline, RefusesANonPrivateModelWithoutTheExplicitFlagAndWritesNothing) {
  const std::string dir = testing::ScratchDir("pipeline_refuse");
  SeededRandom rng(3);
  TrainQuickModelInTheClear(dir + "/va.model", rng);
  ReleaseRequest release = HeartReleaseRequest(dir + "/va.model", "va", dir + "/va.csv");
  release.allow_nonprivate_model = false;
  auto summary = RunRelease(release, rng);
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(summary.status().message()), HasSubstr("--allow-nonprivate-model"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/va.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/va.csv.manifest.json"));
}

// Codes mode: the noised codes (exactly the mechanism's grid values) and the published
// decoder leave the site; the decoder carries no data-dependent training outcome, is the
// deterministic published form of the model, and decodes the codes into valid records.
TEST(Pipeline, CodesModeWritesNoisedCodesAndThePublishedDecoderOfADpModelOnly) {
  const std::string dir = testing::ScratchDir("pipeline_codes");
  SeededRandom rng(11);
  base::NullProgress progress;
  TrainQuickModelInTheClear(dir + "/clear.model", rng);
  ReleaseRequest refused = HeartReleaseRequest(dir + "/clear.model", "va", dir + "/refused.csv");
  refused.mode = ReleaseMode::kCodes;  // allow_nonprivate_model is set and must not matter
  auto no = RunRelease(refused, rng);
  ASSERT_EQ(no.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(no.status().message()), HasSubstr("needs a model trained with DP-SGD"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/refused.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/refused.csv.decoder"));

  TrainRequest dp = HeartTrainRequest("va", dir + "/dp.model");
  dp.dp = model::DpSgdOptions{};
  dp.dp->target_epsilon = 2;
  dp.dp->delta = 1e-3;
  dp.dp->expected_batch_size = 50;
  dp.dp->epochs = 2;
  ASSERT_TRUE(RunTrain(dp, progress, rng).ok());
  ReleaseRequest codes = HeartReleaseRequest(dir + "/dp.model", "va", dir + "/codes.csv");
  codes.allow_nonprivate_model = false;
  codes.mode = ReleaseMode::kCodes;
  auto summary = RunRelease(codes, rng);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 200);
  EXPECT_EQ(summary->outputs,
            (std::vector<std::string>{dir + "/codes.csv", dir + "/codes.csv.decoder"}));

  auto matrix = data::ParseMatrixCsv(*data::ReadFileToString(dir + "/codes.csv"), 8,
                                     /*header=*/true, "codes.csv");
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_EQ(matrix->rows, 200);
  auto mechanism = privacy::MetricMechanism::Create([&] {
    privacy::MetricMechanismParams params = codes.mechanism;
    params.dimension = 8;
    return params;
  }());
  const double grid = mechanism->GridSpacing();
  for (float v : matrix->values) {
    EXPECT_EQ(std::fmod(static_cast<double>(v), grid), 0.0) << v << " is not on the output grid";
  }

  auto published = data::ReadFileToString(dir + "/codes.csv.decoder");
  auto bundle = model::LoadModelBundle(dir + "/dp.model");
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(*published, *model::PublishedModelBytes(*bundle)) << "deterministic";
  auto decoder = model::ParseModelBundle(*published, "published");
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  EXPECT_TRUE(decoder->model_private);
  EXPECT_TRUE(bundle->training.contains("outcome"));
  EXPECT_FALSE(decoder->training.contains("outcome")) << "losses stay at the site";
  EXPECT_TRUE(decoder->training.contains("parameters"));
  auto records = model::DecodeTable(*decoder, *matrix, data::DecodingMode::kSample,
                                    [&rng] { return rng.UniformOpen01(); });
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->num_rows(), 200);

  const Json manifest = Json::parse(*data::ReadFileToString(summary->manifest_path));
  EXPECT_EQ(manifest["mode"], "codes");
  EXPECT_EQ(manifest["outputs"].size(), 2u);
  EXPECT_NEAR(manifest["guarantee"]["epsilon_total"].get<double>(),
              summary->guarantee.EpsilonTotal(), 1e-9);
}

TEST(Pipeline, BadInputStopsBeforeTrainingOrRelease) {
  const std::string dir = testing::ScratchDir("pipeline_bad");
  std::string text = *data::ReadFileToString(HeartFile("cleveland"));
  text.replace(text.find("63.0"), 4, "6e3");  // age 6000 on line 1
  ASSERT_TRUE(data::WriteFileAtomically(dir + "/bad.csv", text).ok());
  SeededRandom rng(4);
  base::NullProgress progress;
  TrainRequest train = HeartTrainRequest("cleveland", dir + "/m.model");
  train.input_csv = dir + "/bad.csv";
  auto trained = RunTrain(train, progress, rng);
  ASSERT_EQ(trained.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(trained.status().message()), HasSubstr("bad.csv:1: column 1 'age'"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.model"));

  train.input_csv = HeartFile("cleveland");
  train.train.max_epochs = 2;
  ASSERT_TRUE(RunTrain(train, progress, rng).ok());
  ReleaseRequest release = HeartReleaseRequest(dir + "/m.model", "cleveland", dir + "/out.csv");
  release.input_csv = dir + "/bad.csv";
  EXPECT_EQ(RunRelease(release, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.csv"));
  // An output path that is the input (or the model) is refused before anything is written.
  const std::string input_copy = dir + "/input.csv";
  ASSERT_TRUE(
      data::WriteFileAtomically(input_copy, *data::ReadFileToString(HeartFile("cleveland"))).ok());
  release.input_csv = input_copy;
  release.output = dir + "/./input.csv";
  EXPECT_EQ(RunRelease(release, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*data::ReadFileToString(input_copy), *data::ReadFileToString(HeartFile("cleveland")));
  release.output = dir + "/m.model";
  EXPECT_EQ(RunRelease(release, rng).status().code(), absl::StatusCode::kInvalidArgument);
  train.model_out = input_copy;
  train.input_csv = input_copy;
  EXPECT_EQ(RunTrain(train, progress, rng).status().code(), absl::StatusCode::kInvalidArgument);
  release.output = dir + "/out.csv";
  release.input_csv = HeartFile("cleveland");
  release.mechanism.clip_radius = -1;
  EXPECT_EQ(RunRelease(release, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Pipeline, ImagesReleaseWithRandomizedResponseLabels) {
  const std::string dir = testing::ScratchDir("pipeline_images");
  data::ImageSet images;
  images.count = 64;
  images.height = 28;
  images.width = 28;
  std::vector<uint8_t> labels;
  for (int i = 0; i < 64; ++i) {
    for (int p = 0; p < 784; ++p)
      images.pixels.push_back(static_cast<uint8_t>(((p % 28) < 14) == (i % 2) ? 230 : 10));
    labels.push_back(static_cast<uint8_t>(i % 10));
  }
  ASSERT_TRUE(data::WriteIdxImages(dir + "/images.idx", images).ok());
  ASSERT_TRUE(data::WriteIdxLabels(dir + "/labels.idx", labels).ok());
  SeededRandom rng(5);
  base::NullProgress progress;
  TrainRequest train;
  train.images_idx = dir + "/images.idx";
  train.model_out = dir + "/img.model";
  train.model.latent_dim = 4;
  train.model.hidden = {64};
  train.train.max_epochs = 3;
  train.seed = 5;
  ASSERT_TRUE(RunTrain(train, progress, rng).ok());

  ReleaseRequest release;
  release.model_path = dir + "/img.model";
  release.images_idx = dir + "/images.idx";
  release.labels_idx = dir + "/labels.idx";
  release.output = dir + "/synthetic";
  release.mechanism.epsilon_per_unit = 1.0;
  release.mechanism.clip_radius = 2.0;
  release.allow_nonprivate_model = true;
  auto missing_label_epsilon = RunRelease(release, rng);
  EXPECT_EQ(missing_label_epsilon.status().code(), absl::StatusCode::kInvalidArgument);

  release.label_epsilon = 2.0;
  auto summary = RunRelease(release, rng);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto out_images = data::ReadIdxImages(dir + "/synthetic-images.idx");
  auto out_labels = data::ReadIdxLabels(dir + "/synthetic-labels.idx");
  ASSERT_TRUE(out_images.ok() && out_labels.ok());
  EXPECT_EQ(out_images->count, 64);
  EXPECT_EQ(out_labels->size(), 64u);
  const Json manifest = Json::parse(*data::ReadFileToString(summary->manifest_path));
  EXPECT_DOUBLE_EQ(manifest["guarantee"]["epsilon_labels_per_row"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(manifest["guarantee"]["epsilon_release"].get<double>(),
                   summary->guarantee.epsilon_codes + 2.0);
}

}  // namespace
}  // namespace fedsyn::site
