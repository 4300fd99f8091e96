#include "common/model/vae.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "common/data/table_io.h"
#include "common/data/transformer.h"
#include "common/model/model_bundle.h"
#include "common/privacy/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/heart_data.h"
#include "tests/support/test_paths.h"

namespace fedsyn::model {
namespace {

using Heart = testing::EncodedHeart;

Heart LoadCleveland() { return testing::LoadEncodedHeart("cleveland"); }

VaeSpec MlpSpec(const data::Transformer& t) { return TableVaeSpec(t, 8, {64, 64}); }

TrainOptions FastOptions(uint64_t seed) {
  TrainOptions o;
  o.max_epochs = 80;
  o.batch_size = 32;
  o.learning_rate = 3e-3;
  o.seed = seed;
  o.threads = 2;
  return o;
}

TEST(Vae, TrainsTheMlpOnOneThreadUnlessToldOtherwise) {
  EXPECT_EQ(TrainingThreads(0, Architecture::kMlp), 1);
  EXPECT_EQ(TrainingThreads(0, Architecture::kConv28), 0) << "all cores";
  EXPECT_EQ(TrainingThreads(3, Architecture::kMlp), 3) << "an explicit count wins";
  Heart heart = LoadCleveland();
  auto vae = Vae::Create(MlpSpec(heart.transformer), 7);
  ASSERT_TRUE(vae.ok());
  TrainOptions options = FastOptions(7);
  options.max_epochs = 1;
  options.threads = 0;
  base::NullProgress progress;
  auto report = (*vae)->Train(heart.encoded, options, progress);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->threads, 1);
}

TEST(Vae, RejectsInvalidSpecs) {
  VaeSpec spec;
  spec.input_width = 3;
  spec.blocks = {{data::BlockKind::kGaussian, 0, 1}, {data::BlockKind::kCategorical, 1, 2}};
  EXPECT_TRUE(Vae::Create(spec, 1).ok());
  spec.blocks.pop_back();
  EXPECT_EQ(Vae::Create(spec, 1).status().code(), absl::StatusCode::kInvalidArgument);  // gap
  spec.blocks.push_back({data::BlockKind::kCategorical, 1, 2});
  spec.latent_dim = 0;
  EXPECT_FALSE(Vae::Create(spec, 1).ok());
  spec.latent_dim = 4;
  spec.architecture = Architecture::kConv28;
  EXPECT_FALSE(Vae::Create(spec, 1).ok());  // conv needs 784 inputs
}

// Trains on Cleveland; the loss must fall, and reconstruction through the encoder mean must
// beat the trivial baseline that predicts every column's marginal (majority category for
// categorical blocks, mean for Gaussian coordinates).
TEST(Vae, LearnsHeartDiseaseBetterThanTheMarginalBaseline) {
  Heart heart = LoadCleveland();
  auto vae = Vae::Create(MlpSpec(heart.transformer), 7);
  ASSERT_TRUE(vae.ok());
  base::NullProgress progress;
  auto report = (*vae)->Train(heart.encoded, FastOptions(7), progress);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->epochs.back().train_loss, 0.7 * report->epochs.front().train_loss);
  EXPECT_EQ(report->threads, 2);

  const data::Matrix out = (*vae)->DecodeLogits((*vae)->EncodeMean(heart.encoded));
  const int64_t n = heart.encoded.rows;
  double vae_correct = 0, base_correct = 0, vae_sq = 0, base_sq = 0;
  for (const data::Block& b : heart.transformer.blocks()) {
    if (b.kind == data::BlockKind::kCategorical) {
      std::vector<int> counts(static_cast<size_t>(b.width), 0);
      for (int64_t r = 0; r < n; ++r) {
        const float* x = heart.encoded.Row(r) + b.offset;
        const float* y = out.Row(r) + b.offset;
        const int truth = static_cast<int>(std::max_element(x, x + b.width) - x);
        ++counts[static_cast<size_t>(truth)];
        vae_correct += truth == static_cast<int>(std::max_element(y, y + b.width) - y);
      }
      base_correct += *std::max_element(counts.begin(), counts.end());
    } else if (b.kind == data::BlockKind::kGaussian) {
      double mean = 0;
      for (int64_t r = 0; r < n; ++r) mean += heart.encoded.Row(r)[b.offset];
      mean /= static_cast<double>(n);
      for (int64_t r = 0; r < n; ++r) {
        const double x = heart.encoded.Row(r)[b.offset];
        vae_sq += std::pow(x - out.Row(r)[b.offset], 2);
        base_sq += std::pow(x - mean, 2);
      }
    }
  }
  EXPECT_GT(vae_correct, base_correct * 1.05) << "categorical accuracy vs majority baseline";
  EXPECT_LT(vae_sq, base_sq * 0.8) << "squared error vs mean baseline";
}

TEST(Vae, TrainingIsDeterministicForASeed) {
  Heart heart = LoadCleveland();
  base::NullProgress progress;
  TrainOptions options = FastOptions(3);
  options.max_epochs = 5;
  data::Matrix outputs[2];
  for (auto& output : outputs) {
    auto vae = Vae::Create(MlpSpec(heart.transformer), 3);
    ASSERT_TRUE((*vae)->Train(heart.encoded, options, progress).ok());
    output = (*vae)->EncodeMean(heart.encoded);
  }
  EXPECT_EQ(outputs[0].values, outputs[1].values);
}

TEST(Vae, EarlyStoppingRestoresTheBestEpoch) {
  Heart heart = LoadCleveland();
  auto vae = Vae::Create(MlpSpec(heart.transformer), 5);
  base::NullProgress progress;
  TrainOptions options = FastOptions(5);
  options.max_epochs = 400;
  options.patience = 3;
  options.learning_rate = 3e-2;  // large steps: validation loss stalls early
  auto report = (*vae)->Train(heart.encoded, options, progress);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->stopped_early);
  EXPECT_EQ(static_cast<int>(report->epochs.size()), report->best_epoch + options.patience);
  double best = INFINITY;
  for (const EpochStats& e : report->epochs) best = std::min(best, e.validation_loss);
  EXPECT_EQ(report->epochs[static_cast<size_t>(report->best_epoch - 1)].validation_loss, best);
}

TEST(Vae, SaveAndLoadGiveIdenticalOutputs) {
  Heart heart = LoadCleveland();
  auto vae = Vae::Create(MlpSpec(heart.transformer), 11);
  base::NullProgress progress;
  TrainOptions options = FastOptions(11);
  options.max_epochs = 3;
  ASSERT_TRUE((*vae)->Train(heart.encoded, options, progress).ok());
  const std::string path = testing::ScratchDir("vae_save") + "/m.fsvae";
  ASSERT_TRUE((*vae)->Save(path, R"({"note": "hello"})").ok());
  std::string metadata;
  auto loaded = Vae::Load(path, &metadata);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(metadata, R"({"note":"hello"})");
  const data::Matrix codes = (*vae)->EncodeMean(heart.encoded);
  EXPECT_EQ((*loaded)->EncodeMean(heart.encoded).values, codes.values);
  EXPECT_EQ((*loaded)->DecodeLogits(codes).values, (*vae)->DecodeLogits(codes).values);
  EXPECT_EQ((*loaded)->spec().blocks.size(), heart.transformer.blocks().size());
}

TEST(Vae, LoadRejectsDamagedAndForeignFiles) {
  Heart heart = LoadCleveland();
  auto vae = Vae::Create(MlpSpec(heart.transformer), 1);
  const std::string dir = testing::ScratchDir("vae_damaged");
  ASSERT_TRUE((*vae)->Save(dir + "/m.fsvae", "{}").ok());
  std::string bytes = *data::ReadFileToString(dir + "/m.fsvae");

  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x01;
  ASSERT_TRUE(data::WriteFileAtomically(dir + "/flipped", flipped).ok());
  EXPECT_EQ(Vae::Load(dir + "/flipped", nullptr).status().code(), absl::StatusCode::kDataLoss);

  ASSERT_TRUE(
      data::WriteFileAtomically(dir + "/truncated", bytes.substr(0, bytes.size() - 100)).ok());
  EXPECT_EQ(Vae::Load(dir + "/truncated", nullptr).status().code(), absl::StatusCode::kDataLoss);

  std::string future = bytes;
  future[8] = 9;  // format version 9
  ASSERT_TRUE(data::WriteFileAtomically(dir + "/future", future).ok());
  EXPECT_EQ(Vae::Load(dir + "/future", nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(data::WriteFileAtomically(dir + "/text", "not a model at all, just text").ok());
  EXPECT_EQ(Vae::Load(dir + "/text", nullptr).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Vae::Load(dir + "/none", nullptr).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*vae)->Save(dir + "/bad-meta", "not json").code(), absl::StatusCode::kInvalidArgument);
}

// A model file with its JSON header replaced (and, optionally, its parameter bytes): the frame
// (length, checksum) is rebuilt, so only the content is hostile. Layout: 8-byte magic, u32
// version, u64 header length, header, float32 parameters, hex SHA-256.
std::string WithHeader(const std::string& file, const nlohmann::json& header,
                       const std::function<void(std::string&)>& edit_parameters = {}) {
  uint64_t old_size = 0;
  std::memcpy(&old_size, file.data() + 12, sizeof old_size);
  std::string parameters = file.substr(20 + old_size, file.size() - 64 - 20 - old_size);
  if (edit_parameters) edit_parameters(parameters);
  const std::string text = header.dump();
  const uint64_t size = text.size();
  std::string out = file.substr(0, 12);
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out += text + parameters;
  return out + privacy::Sha256Hex(out);
}

// Issue #12 F1, F4, F6: a published decoder is a peer's bytes. Wrong-typed JSON, a spec asking
// for absurd sizes and non-finite parameters are each a DataLoss status, never a crash.
TEST(Vae, HostileModelFilesAreErrorsNotCrashes) {
  Heart heart = LoadCleveland();
  ModelBundle bundle;
  bundle.schema = heart.schema;
  bundle.transformer = heart.transformer;
  bundle.vae = std::move(*Vae::Create(MlpSpec(heart.transformer), 1));
  bundle.model_private = true;
  bundle.model_epsilon = 1;
  bundle.model_delta = 1e-6;
  const std::string good = *PublishedModelBytes(bundle);
  ASSERT_TRUE(ParseModelBundle(good, "good").ok());
  uint64_t header_size = 0;
  std::memcpy(&header_size, good.data() + 12, sizeof header_size);
  const nlohmann::json header = nlohmann::json::parse(good.substr(20, header_size));

  std::vector<std::pair<std::string, nlohmann::json>> cases;
  cases.push_back({"header is an array", nlohmann::json::array()});
  auto change = [&](const std::string& name, const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json h = header;
    f(h);
    cases.push_back({name, h});
  };
  change("spec is a number", [](auto& h) { h["spec"] = 5; });
  change("tensors are a number", [](auto& h) { h["tensors"] = 7; });
  change("a tensor entry is a number", [](auto& h) { h["tensors"][0] = 3; });
  change("a shape is text", [](auto& h) { h["tensors"][0]["shape"] = "big"; });
  change("model_private is text", [](auto& h) { h["metadata"]["model_private"] = "yes"; });
  change("model_epsilon is text", [](auto& h) { h["metadata"]["model_epsilon"] = "3"; });
  change("metadata is an array", [](auto& h) { h["metadata"] = nlohmann::json::array(); });
  change("hidden widths are text", [](auto& h) { h["spec"]["hidden"] = "wide"; });
  change("input width asks for terabytes", [](auto& h) { h["spec"]["input_width"] = 1 << 30; });
  // Found by fuzzing: floats where integers belong (the JSON library's cast would be undefined).
  change("a hidden width is a huge float",
         [](auto& h) { h["spec"]["hidden"] = std::vector<double>{8.8e80}; });
  change("a tensor dimension is a huge float",
         [](auto& h) { h["tensors"][0]["shape"][0] = 1e300; });
  change("thousands of layers",
         [](auto& h) { h["spec"]["hidden"] = std::vector<int>(4096, 8192); });
  for (const auto& [name, hostile] : cases) {
    auto parsed = ParseModelBundle(WithHeader(good, hostile), name);
    EXPECT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss)
        << name << ": " << parsed.status();
  }
  // A spec within the bounds (34 M parameters) that the file's few KB of tensors cannot fill:
  // refused before the model is built.
  nlohmann::json big = header;
  big["spec"]["hidden"] = std::vector<int>{4096, 4096};
  auto oversized = ParseModelBundle(WithHeader(good, big), "oversized");
  EXPECT_EQ(oversized.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(oversized.status().message()),
              ::testing::HasSubstr("far more parameters"));
  // A NaN among the parameters: refused, whatever the metadata says.
  auto nan = ParseModelBundle(WithHeader(good, header,
                                         [](std::string& p) {
                                           const float value = std::nanf("");
                                           std::memcpy(p.data(), &value, sizeof value);
                                         }),
                              "nan");
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(nan.status().message()).find("not finite"), std::string::npos);
}

TEST(Vae, ConvolutionalVaeTrainsOnImages) {
  // 96 images of two kinds: bright left half or bright right half.
  data::Matrix images(96, 784);
  for (int64_t i = 0; i < images.rows; ++i) {
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x)
        images.Row(i)[y * 28 + x] = ((x < 14) == (i % 2 == 0)) ? 0.9f : 0.05f;
    }
  }
  auto vae = Vae::Create(ImageVaeSpec(4, 64), 2);
  ASSERT_TRUE(vae.ok()) << vae.status();
  base::NullProgress progress;
  TrainOptions options = FastOptions(2);
  options.max_epochs = 15;
  auto report = (*vae)->Train(images, options, progress);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->epochs.back().train_loss, 0.8 * report->epochs.front().train_loss);
  const data::Matrix codes = (*vae)->EncodeMean(images);
  EXPECT_EQ(codes.cols, 4);
  const data::Matrix logits = (*vae)->DecodeLogits(codes);
  EXPECT_EQ(logits.cols, 784);
  // The two kinds are told apart: pixel (14, 3) is bright exactly for even images.
  int right = 0;
  for (int64_t i = 0; i < images.rows; ++i)
    right += (logits.Row(i)[14 * 28 + 3] > 0) == (i % 2 == 0);
  EXPECT_GT(right, 90);
}

}  // namespace
}  // namespace fedsyn::model
