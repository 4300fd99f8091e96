#include "site_agent/pipeline.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "common/data/idx.h"
#include "common/model/model_bundle.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "common/privacy/distributions.h"
#include "common/privacy/rdp_accountant.h"
#include "site_agent/manifest.h"
#include "spdlog/spdlog.h"

namespace fedsyn::site {
namespace {

using Json = nlohmann::json;

// Hyperparameters only: they are chosen by the steward, not computed from the records.
Json TrainingParametersJson(const TrainRequest& request, uint64_t seed) {
  const auto& o = request.train;
  Json parameters = {{"seed", seed},
                     {"mode", "non-private (Adam)"},
                     {"max_epochs", o.max_epochs},
                     {"batch_size", o.batch_size},
                     {"learning_rate", o.learning_rate},
                     {"validation_fraction", o.validation_fraction},
                     {"patience", o.patience},
                     {"latent_dim", request.model.latent_dim},
                     {"hidden", request.model.hidden},
                     {"beta", request.model.beta}};
  if (!request.dataset.empty()) parameters["dataset"] = request.dataset;
  if (!request.audit_job.empty()) parameters["audit_job"] = request.audit_job;
  return parameters;
}

// How training went: loss curve, stopping epoch, split sizes. These are functions of the
// records, so they only ever appear in the manifest's site_only section.
Json TrainingOutcomeJson(const model::TrainReport& report) {
  Json epochs = Json::array();
  for (const auto& e : report.epochs) epochs.push_back({e.epoch, e.train_loss, e.validation_loss});
  return {{"best_epoch", report.best_epoch}, {"stopped_early", report.stopped_early},
          {"train_rows", report.train_rows}, {"validation_rows", report.validation_rows},
          {"seconds", report.seconds},       {"loss_per_epoch", epochs}};
}

}  // namespace

absl::StatusOr<TrainSummary> RunTrain(const TrainRequest& request, base::ProgressSink& progress,
                                      privacy::RandomSource& secure) {
  const bool tables = !request.input_csv.empty();
  if (tables == !request.images_idx.empty()) {
    return absl::InvalidArgumentError("give either a CSV input with a schema or an IDX image file");
  }
  if (request.model_out.empty()) {
    return absl::InvalidArgumentError("an output model path is required");
  }
  RETURN_IF_ERROR(CheckOutputsAreNotInputs(
      {request.model_out}, {request.input_csv, request.schema_path, request.images_idx}));
  model::ModelBundle bundle;
  TrainSummary summary;
  data::Matrix encoded;
  model::VaeSpec spec;
  PrivacyUnits units;  // tables with a person identifier: persons; otherwise rows
  if (tables) {
    if (request.schema_path.empty())
      return absl::InvalidArgumentError("a schema file is required for CSV input");
    ASSIGN_OR_RETURN(data::Schema schema, data::Schema::LoadFile(request.schema_path));
    ASSIGN_OR_RETURN(data::ReadResult read, data::ReadCsvTable(request.input_csv, schema));
    ASSIGN_OR_RETURN(units, BoundContributions(read, schema, secure));
    summary.rows_dropped = units.rows_dropped;
    if (schema.person_index) summary.persons = units.count;
    summary.extra_rows = request.extra_rows.num_rows();
    for (const data::Row& row : request.extra_rows.rows) {
      if (row.size() != schema.columns.size())
        return absl::InvalidArgumentError("an extra training row does not match the schema");
      read.table.rows.push_back(row);
      units.unit_of_row.push_back(units.count++);  // a canary is a unit of its own
    }
    if (request.marginal_epsilon) {
      if (request.dp)
        return absl::InvalidArgumentError(
            "DP-SGD and marginal pre-fitting exclude "
            "each other");
      std::string warning;
      const int64_t protected_units =
          summary.persons > 0 ? summary.persons : read.table.num_rows() - summary.extra_rows;
      ASSIGN_OR_RETURN(const double delta,
                       privacy::ResolveDelta(request.dp_delta, protected_units, &warning));
      if (!warning.empty()) spdlog::warn("{}", warning);
      synth::MarginalOptions options;
      options.contribution_bound = schema.person_index ? schema.max_rows_per_person : 1;
      ASSIGN_OR_RETURN(const synth::MarginalModel fit,
                       synth::MarginalModel::Fit(read.table, schema, *request.marginal_epsilon,
                                                 delta, options, secure));
      // From here on nothing reads a record: the VAE learns from the fit's samples.
      read.table = fit.Sample(read.table.num_rows(), secure);
      summary.marginal_fit = fit.report();
      summary.marginal_options = options;
    }
    ASSIGN_OR_RETURN(data::Transformer transformer, data::Transformer::FromSchema(schema));
    encoded = transformer.Encode(read.table);
    summary.read_report = read.report;
    spec = model::TableVaeSpec(transformer, request.model.latent_dim, request.model.hidden);
    bundle.kind = model::DataKind::kTable;
    bundle.schema = std::move(schema);
    bundle.transformer = std::move(transformer);
    if (read.report.TotalClamped() > 0) {
      spdlog::warn(
          "{} value(s) were outside their declared range and were clamped (see the manifest)",
          read.report.TotalClamped());
    }
  } else {
    ASSIGN_OR_RETURN(const data::ImageSet images,
                     data::ReadIdxImages(request.images_idx, request.max_images));
    if (images.height != 28 || images.width != 28) {
      return absl::InvalidArgumentError("the convolutional VAE takes 28x28 images");
    }
    encoded = data::ImagesToMatrix(images);
    spec = model::ImageVaeSpec(request.model.latent_dim, request.model.hidden.front());
    bundle.kind = model::DataKind::kImage;
  }
  spec.beta = request.model.beta;
  summary.rows = encoded.rows;
  const uint64_t seed = request.seed.value_or(secure.NextU64() >> 1);
  model::TrainOptions options = request.train;
  options.seed = seed;
  ASSIGN_OR_RETURN(bundle.vae, model::Vae::Create(spec, seed));
  spdlog::info("training a {} VAE on {} records (width {}, latent {})",
               tables ? "tabular" : "convolutional", encoded.rows, spec.input_width,
               spec.latent_dim);
  Json parameters = TrainingParametersJson(request, seed);
  if (request.dp) {
    model::DpSgdOptions dp = *request.dp;
    std::string warning;
    // delta protects people: with a person identifier n counts persons, not rows.
    const int64_t protected_units =
        summary.persons > 0 ? summary.persons : encoded.rows - summary.extra_rows;
    ASSIGN_OR_RETURN(dp.delta, privacy::ResolveDelta(request.dp_delta, protected_units, &warning));
    if (dp.expected_batch_size == 0) dp.expected_batch_size = DefaultDpBatchSize(protected_units);
    const bool per_person = bundle.schema && bundle.schema->person_index.has_value();
    if (per_person) dp.max_rows_per_unit = bundle.schema->max_rows_per_person;
    if (!warning.empty()) spdlog::warn("{}", warning);
    // DP-SGD's keystream is keyed from the secure source and the key is never stored: with it,
    // anyone could regenerate the noise and subtract it.
    ASSIGN_OR_RETURN(summary.dp, bundle.vae->TrainPrivately(
                                     encoded, dp, options, secure, progress,
                                     per_person ? units.unit_of_row : std::vector<int64_t>{}));
    summary.report = summary.dp->train;
    bundle.model_private = true;
    bundle.model_epsilon = summary.dp->epsilon;
    bundle.model_delta = summary.dp->delta;
    parameters["mode"] = per_person ? "DP-SGD (Poisson sampling of persons, rows clipped to "
                                      "C / max_rows_per_person, RDP accounting)"
                                    : "DP-SGD (Poisson sampling, per-record clipping, RDP "
                                      "accounting)";
    parameters["dp"] = {
        {"target_epsilon", dp.target_epsilon},
        {"delta", dp.delta},
        {"neighbouring_relation", privacy::NeighbouringRelationName(privacy::kReleaseRelation)},
        {"clip_norm", dp.clip_norm},
        {"expected_batch_size", dp.expected_batch_size},
        {"epochs", dp.epochs},
        {"noise_multiplier", summary.dp->noise_multiplier},
        {"sampling_rate", summary.dp->sampling_rate},
        {"steps", summary.dp->steps},
        {"epsilon", summary.dp->epsilon},
        {"accountant_state", summary.dp->accountant_state}};
    for (const char* unused : {"max_epochs", "validation_fraction", "patience", "batch_size"}) {
      parameters.erase(unused);
    }
  } else if (summary.marginal_fit) {
    ASSIGN_OR_RETURN(summary.report, bundle.vae->Train(encoded, options, progress));
    bundle.model_private = true;
    bundle.model_epsilon = summary.marginal_fit->epsilon;
    bundle.model_delta = summary.marginal_fit->delta;
    parameters["mode"] =
        "trained in the clear on rows sampled from a private marginal model: post-processing, "
        "so the model's (epsilon, delta) is the marginal fit's";
    parameters["marginals"] = MarginalFitJson(*summary.marginal_fit, summary.marginal_options);
    parameters["marginals"]["epsilon"] = summary.marginal_fit->epsilon;
    parameters["marginals"]["delta"] = summary.marginal_fit->delta;
  } else {
    ASSIGN_OR_RETURN(summary.report, bundle.vae->Train(encoded, options, progress));
    bundle.model_private = false;
  }
  Json outcome = TrainingOutcomeJson(summary.report);
  if (summary.extra_rows > 0) outcome["audit_canaries_included"] = summary.extra_rows;
  if (summary.rows_dropped > 0)
    outcome["rows_dropped_beyond_max_rows_per_person"] = summary.rows_dropped;
  bundle.training = {{"parameters", parameters}, {"outcome", outcome}};
  RETURN_IF_ERROR(model::SaveModelBundle(request.model_out, bundle));
  return summary;
}

std::string PublishedModelPath(const std::string& output) { return output + ".decoder"; }

int DefaultDpBatchSize(int64_t units) {
  const double batch = std::round(static_cast<double>(units) * DpTrainingDefaults::kBatchShare);
  return static_cast<int>(std::clamp(batch, 1.0, 1'000'000.0));
}

absl::StatusOr<PrivacyUnits> BoundContributions(data::ReadResult& read, const data::Schema& schema,
                                                privacy::RandomSource& rng) {
  PrivacyUnits units;
  const auto rows = static_cast<size_t>(read.table.num_rows());
  if (!schema.person_index) {
    units.count = read.table.num_rows();
    units.unit_of_row.resize(rows);
    for (size_t i = 0; i < rows; ++i) units.unit_of_row[i] = static_cast<int64_t>(i);
    return units;
  }
  if (read.person_ids.size() != rows)
    return absl::InternalError("person identifiers and rows differ in number");
  const std::vector<std::string>& missing =
      schema.columns[static_cast<size_t>(*schema.person_index)].missing_tokens;
  std::map<std::string, std::vector<size_t>> by_person;
  for (size_t i = 0; i < rows; ++i) {
    const std::string& id = read.person_ids[i];
    if (id.empty() || std::find(missing.begin(), missing.end(), id) != missing.end()) {
      return absl::InvalidArgumentError("row " + std::to_string(i + 1) +
                                        " has no person identifier; every row must name its "
                                        "person when the schema declares person_id");
    }
    by_person[id].push_back(i);
  }
  // Exactly L rows per person: a random L of more, and rows repeated at random to fill fewer,
  // so the number of rows (published) is L x persons whichever person is replaced.
  const auto per_person = static_cast<size_t>(schema.max_rows_per_person);
  data::Table kept;
  int64_t next_unit = 0;
  for (auto& [id, person_rows] : by_person) {
    privacy::Shuffle(rng, person_rows);  // which rows stay is the secure generator's choice
    if (person_rows.size() > per_person) {
      units.rows_dropped += static_cast<int64_t>(person_rows.size() - per_person);
      person_rows.resize(per_person);
    }
    const size_t own = person_rows.size();
    while (person_rows.size() < per_person)
      person_rows.push_back(person_rows[rng.UniformBelow(own)]);
    for (const size_t row : person_rows) {
      kept.rows.push_back(read.table.rows[row]);
      units.unit_of_row.push_back(next_unit);
    }
    ++next_unit;
  }
  read.table = std::move(kept);
  read.person_ids.clear();  // the identifiers go no further
  units.count = next_unit;
  return units;
}

namespace {

// One secure permutation for the rows, or for the images and their labels together.
void ShuffleRecords(PreparedRelease& prepared, privacy::RandomSource& rng) {
  if (prepared.table) {
    privacy::Shuffle(rng, prepared.table->table.rows);
    return;
  }
  data::ImageSet& images = *prepared.images;
  const size_t pixels = static_cast<size_t>(images.height) * static_cast<size_t>(images.width);
  const std::vector<int64_t> order = privacy::RandomPermutation(rng, images.count);
  std::vector<uint8_t> shuffled(images.pixels.size());
  std::vector<uint8_t> labels(prepared.labels.size());
  for (size_t to = 0; to < order.size(); ++to) {
    const auto from = static_cast<size_t>(order[to]);
    std::copy_n(images.pixels.begin() + static_cast<std::ptrdiff_t>(from * pixels), pixels,
                shuffled.begin() + static_cast<std::ptrdiff_t>(to * pixels));
    if (!labels.empty()) labels[to] = prepared.labels[from];
  }
  images.pixels = std::move(shuffled);
  prepared.labels = std::move(labels);
}

}  // namespace

absl::StatusOr<PreparedRelease> PrepareRelease(const ReleaseRequest& request,
                                               privacy::RandomSource& rng) {
  if (request.output.empty()) return absl::InvalidArgumentError("an output path is required");
  RETURN_IF_ERROR(CheckOutputsAreNotInputs(
      {request.output, request.output + ".manifest.json", request.output + "-images.idx",
       request.output + "-labels.idx", PublishedModelPath(request.output)},
      {request.model_path, request.input_csv, request.images_idx, request.labels_idx}));
  PreparedRelease prepared;
  ASSIGN_OR_RETURN(prepared.bundle, model::LoadModelBundle(request.model_path));
  const model::ModelBundle& bundle = prepared.bundle;
  if (!bundle.model_private && !request.allow_nonprivate_model) {
    return absl::FailedPreconditionError(
        "the model " + request.model_path +
        " was trained without differential privacy; its decoder has seen the records, so the "
        "release would have no end-to-end guarantee. Pass --allow-nonprivate-model to release "
        "anyway (the manifest will say \"model not private\").");
  }
  if (request.mode == ReleaseMode::kCodes) {
    if (bundle.kind != model::DataKind::kTable) {
      return absl::UnimplementedError("codes mode releases tables only in this version");
    }
    if (!bundle.model_private) {
      // No flag overrides this: the decoder itself would leave the site.
      return absl::FailedPreconditionError(
          "codes mode ships the decoder, so it needs a model trained with DP-SGD "
          "(fedsyn-agent train --dp-epsilon ...); use synthetic mode");
    }
  }
  if (request.mode == ReleaseMode::kModelOnly && bundle.kind != model::DataKind::kTable) {
    return absl::UnimplementedError("model-only mode releases tables only in this version");
  }
  if (request.mode != ReleaseMode::kModelOnly) {
    privacy::MetricMechanismParams params = request.mechanism;
    params.dimension = bundle.vae->spec().latent_dim;
    ASSIGN_OR_RETURN(prepared.mechanism, privacy::MetricMechanism::Create(params));
    prepared.guarantee.epsilon_codes = prepared.mechanism->RecordEpsilon();
  }
  prepared.guarantee.model_private = bundle.model_private;
  prepared.guarantee.epsilon_model = bundle.model_epsilon;
  prepared.guarantee.delta_model = bundle.model_delta;
  if (bundle.kind == model::DataKind::kTable) {
    if (request.input_csv.empty()) {
      return absl::InvalidArgumentError("this is a table model: give a CSV input");
    }
    ASSIGN_OR_RETURN(prepared.table, data::ReadCsvTable(request.input_csv, *bundle.schema));
    ASSIGN_OR_RETURN(const PrivacyUnits units,
                     BoundContributions(*prepared.table, *bundle.schema, rng));
    prepared.rows_dropped = units.rows_dropped;
    prepared.rows = prepared.table->table.num_rows();
    if (bundle.schema->person_index)
      prepared.guarantee.rows_per_person = bundle.schema->max_rows_per_person;
  } else {
    if (request.images_idx.empty()) {
      return absl::InvalidArgumentError("this is an image model: give an IDX image file");
    }
    ASSIGN_OR_RETURN(prepared.images, data::ReadIdxImages(request.images_idx, request.max_images));
    prepared.rows = prepared.images->count;
    if (!request.labels_idx.empty()) {
      ASSIGN_OR_RETURN(prepared.labels,
                       data::ReadIdxLabels(request.labels_idx, request.max_images));
      if (!request.label_epsilon) {
        return absl::InvalidArgumentError(
            "labels are released through randomized response: give --label-epsilon");
      }
      ASSIGN_OR_RETURN(prepared.label_rr, privacy::RandomizedResponse::Create(
                                              bundle.image.num_classes, *request.label_epsilon));
      prepared.guarantee.epsilon_labels = *request.label_epsilon;
    }
  }
  ASSIGN_OR_RETURN(prepared.charge,
                   privacy::Charge::Make(prepared.guarantee.EpsilonRelease(), bundle.model_private,
                                         bundle.model_epsilon, bundle.model_delta));
  ShuffleRecords(prepared, rng);
  return prepared;
}

absl::StatusOr<ReleaseSummary> GenerateRelease(const ReleaseRequest& request,
                                               const PreparedRelease& prepared,
                                               privacy::RandomSource& rng) {
  const model::ModelBundle& bundle = prepared.bundle;
  ReleaseSummary summary;
  summary.guarantee = prepared.guarantee;
  summary.charge = prepared.charge;
  Json site_only;
  Json outputs = Json::array();
  std::string input_path;
  if (request.mode == ReleaseMode::kModelOnly) {
    // No record is encoded: the input gave only its (public) row count.
    ASSIGN_OR_RETURN(const data::Table synthetic,
                     SampleTableFromPrior(bundle, prepared.rows, request.decoding, rng));
    RETURN_IF_ERROR(data::WriteFileAtomically(
        request.output, data::FormatCsvTable(synthetic, *bundle.schema, request.formula_cells)));
    summary.outputs.push_back(request.output);
    summary.rows = synthetic.num_rows();
    summary.read_report = prepared.table->report;
    site_only = ReadReportJson(prepared.table->report, *bundle.schema);
    input_path = request.input_csv;
  } else if (bundle.kind == model::DataKind::kTable) {
    const privacy::MetricMechanism& mechanism = *prepared.mechanism;
    ReleaseCounts counts;
    if (request.mode == ReleaseMode::kCodes) {
      ASSIGN_OR_RETURN(const std::string published, model::PublishedModelBytes(bundle));
      ASSIGN_OR_RETURN(const TableRelease release,
                       ReleaseTableCodes(bundle, prepared.table->table, mechanism, rng));
      RETURN_IF_ERROR(data::WriteFileAtomically(
          request.output, data::FormatMatrixCsv(release.noised_codes, /*header=*/true)));
      RETURN_IF_ERROR(data::WriteFileAtomically(PublishedModelPath(request.output), published));
      summary.outputs = {request.output, PublishedModelPath(request.output)};
      summary.rows = release.noised_codes.rows;
      counts = release.counts;
    } else {
      ASSIGN_OR_RETURN(const TableRelease release,
                       ReleaseTable(bundle, prepared.table->table, mechanism, request.decoding,
                                    request.code_decoding, rng));
      RETURN_IF_ERROR(data::WriteFileAtomically(
          request.output,
          data::FormatCsvTable(release.synthetic, *bundle.schema, request.formula_cells)));
      summary.outputs.push_back(request.output);
      summary.rows = release.synthetic.num_rows();
      counts = release.counts;
    }
    summary.read_report = prepared.table->report;
    site_only = ReadReportJson(prepared.table->report, *bundle.schema);
    site_only["clipped_codes"] = counts.clipped_codes;
    if (prepared.rows_dropped > 0)
      site_only["rows_dropped_beyond_max_rows_per_person"] = prepared.rows_dropped;
    input_path = request.input_csv;
  } else {
    const privacy::MetricMechanism& mechanism = *prepared.mechanism;
    ASSIGN_OR_RETURN(const ImageRelease release,
                     ReleaseImages(bundle, *prepared.images, prepared.labels, mechanism,
                                   prepared.label_rr, request.code_decoding, rng));
    const std::string images_out = request.output + "-images.idx";
    RETURN_IF_ERROR(data::WriteIdxImages(images_out, release.images));
    summary.outputs.push_back(images_out);
    if (!release.labels.empty()) {
      const std::string labels_out = request.output + "-labels.idx";
      RETURN_IF_ERROR(data::WriteIdxLabels(labels_out, release.labels));
      summary.outputs.push_back(labels_out);
    }
    summary.rows = release.images.count;
    site_only = {{"rows", prepared.images->count}, {"clipped_codes", release.counts.clipped_codes}};
    input_path = request.images_idx;
  }
  ASSIGN_OR_RETURN(const std::string input_sha, privacy::Sha256HexOfFile(input_path));
  site_only["input"] = {{"path", input_path}, {"sha256", input_sha}};
  for (const std::string& path : summary.outputs) {
    ASSIGN_OR_RETURN(Json file, FileJson(path));
    outputs.push_back(std::move(file));
  }
  ASSIGN_OR_RETURN(Json guarantee, GuaranteeJson(summary.guarantee, summary.charge));
  ASSIGN_OR_RETURN(Json model_file, FileJson(request.model_path));
  model_file["private"] = bundle.model_private;
  model_file["training"] = bundle.training.value("parameters", Json::object());
  site_only["training"] = bundle.training.value("outcome", Json::object());
  const Json manifest = {
      {"format", "fedsyn-release-manifest"},
      {"version", kManifestVersion},
      {"created_utc", UtcTimestamp()},
      {"kind", bundle.kind == model::DataKind::kTable ? "table" : "image"},
      {"mode", ReleaseModeName(request.mode)},
      {"rows", summary.rows},
      {"guarantee", guarantee},
      {"mechanism", prepared.mechanism
                        ? MechanismJson(*prepared.mechanism)
                        : Json{{"name", "none"},
                               {"note",
                                "model-only release: codes drawn from the prior N(0, I) "
                                "and decoded; no record was encoded"}}},
      {"decoding", request.mode == ReleaseMode::kCodes ? "by the recipient (published decoder)"
                   : request.decoding == data::DecodingMode::kSample ? "sample"
                                                                     : "argmax"},
      {"code_decoding",
       request.mode == ReleaseMode::kModelOnly ? "none (codes drawn from the prior)"
       : request.mode == ReleaseMode::kCodes
           ? "by the recipient"
           : std::string(privacy::CodeDecodingName(request.code_decoding)) +
                 (request.code_decoding == privacy::CodeDecoding::kNoisedCode
                      ? ": the decoder is fed the noised code"
                      : ": the decoder is fed the posterior of the code's centre under the VAE "
                        "prior on the clip ball (post-processing, no epsilon)")},
      {"labels", bundle.kind == model::DataKind::kTable
                     ? "generated jointly by the decoder (never copied)"
                     : "randomized response (charged in epsilon_labels)"},
      {"model", model_file},
      {"outputs", outputs},
      {"site_only", site_only},
  };
  summary.manifest_path = request.output + ".manifest.json";
  RETURN_IF_ERROR(data::WriteFileAtomically(summary.manifest_path, manifest.dump(2) + "\n"));
  return summary;
}

absl::StatusOr<ReleaseSummary> RunRelease(const ReleaseRequest& request,
                                          privacy::RandomSource& rng) {
  ASSIGN_OR_RETURN(const PreparedRelease prepared, PrepareRelease(request, rng));
  return GenerateRelease(request, prepared, rng);
}

}  // namespace fedsyn::site
