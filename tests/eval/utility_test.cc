// Utility of the end-to-end private pipeline on UCI Adult: a VAE trained with DP-SGD at
// epsilon_model = 8, released through the metric mechanism and decoded from the code's posterior
// (the product's default; docs/privacy.md §12), must still yield synthetic data on
// which a classifier beats the majority-class baseline on the real test set (train on
// synthetic, test on real).
#include <cstdio>

#include "common/data/table_io.h"
#include "common/eval/logistic_regression.h"
#include "gtest/gtest.h"
#include "site_agent/release.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn {
namespace {

TEST(EndToEndUtility, DpTrainedVaeOnAdultBeatsTheMajorityBaseline) {
  auto schema = data::Schema::LoadFile(testing::DemoDataDir() + "/adult/adult.schema.toml");
  ASSERT_TRUE(schema.ok());
  auto members = data::ReadCsvTable(testing::DemoDataDir() + "/adult/adult.data", *schema);
  ASSERT_TRUE(members.ok()) << members.status();
  data::CsvFormat test_format = schema->csv;
  test_format.skip_rows = 1;  // adult.test starts with a banner line
  auto test =
      data::ReadCsvTable(testing::DemoDataDir() + "/adult/adult.test", *schema, test_format);
  ASSERT_TRUE(test.ok()) << test.status();

  model::ModelBundle bundle;
  bundle.kind = model::DataKind::kTable;
  bundle.schema = *schema;
  bundle.transformer = *data::Transformer::FromSchema(*schema);
  // site::DpTrainingDefaults' beta and step size (chosen on Adult), for a short run.
  model::VaeSpec spec = model::TableVaeSpec(*bundle.transformer, 8, {128, 128});
  spec.beta = 0.2;
  bundle.vae = std::move(*model::Vae::Create(spec, 1));
  model::DpSgdOptions dp;
  dp.target_epsilon = 8.0;
  dp.delta = 1e-5;
  dp.expected_batch_size = 256;
  dp.epochs = 5;
  model::TrainOptions options;
  options.learning_rate = 5e-3;
  options.threads = 2;
  base::NullProgress progress;
  testing::SeededRandom key_source(11);
  auto trained = bundle.vae->TrainPrivately(bundle.transformer->Encode(members->table), dp, options,
                                            key_source, progress);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_LE(trained->epsilon, 8.0);

  auto mechanism =
      privacy::MetricMechanism::Create({privacy::NoiseMetric::kL2, 2.0, 3.0, 8, std::nullopt});
  testing::SeededRandom rng(12);
  auto released =
      site::ReleaseTable(bundle, members->table, *mechanism, data::DecodingMode::kSample,
                         privacy::CodeDecoding::kPosteriorSample, rng);
  ASSERT_TRUE(released.ok()) << released.status();

  auto synthetic = eval::ToLabelledData(released->synthetic, *schema);
  auto real_train = eval::ToLabelledData(members->table, *schema);
  auto real_test = eval::ToLabelledData(test->table, *schema);
  ASSERT_TRUE(synthetic.ok() && real_train.ok() && real_test.ok());
  const double majority = eval::MajorityBaselineAccuracy(*real_train, *real_test);
  const double on_synthetic = eval::LogisticRegression::Fit(*synthetic).Accuracy(*real_test);
  const double on_real = eval::LogisticRegression::Fit(*real_train).Accuracy(*real_test);
  std::printf(
      "adult.test accuracy: majority %.4f, LR on real %.4f, LR on synthetic (eps_model %.3f, "
      "eps_release %.3f) %.4f\n",
      majority, on_real, trained->epsilon, mechanism->RecordEpsilon(), on_synthetic);
  EXPECT_NEAR(majority, 12435.0 / 16281.0, 1e-9);
  EXPECT_GT(on_real, majority) << "the probe itself must be able to learn";
  EXPECT_GT(on_synthetic, majority);
}

}  // namespace
}  // namespace fedsyn
