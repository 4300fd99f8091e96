// Classifiers for the evaluation (issue #5): the target models whose utility and membership
// leakage the experiments measure, and the attacker's shadow models. Trained in the clear or
// with DP-SGD (the baseline fedsyn is compared against), behind a torch-free interface.
#ifndef FEDSYN_COMMON_MODEL_CLASSIFIER_H_
#define FEDSYN_COMMON_MODEL_CLASSIFIER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "common/base/progress.h"
#include "common/base/status.h"
#include "common/data/table.h"
#include "common/model/vae.h"

namespace fedsyn::model {

enum class ClassifierArchitecture {
  kLinear,  // multinomial logistic regression
  kMlp,     // hidden ReLU layers
  kCnn28,   // 1x28x28 images: two strided convolutions, one dense layer
};

struct ClassifierSpec {
  ClassifierArchitecture architecture = ClassifierArchitecture::kMlp;
  int input_width = 0;  // 784 for kCnn28
  int num_classes = 2;
  std::vector<int> hidden = {64};  // kMlp: widths; kCnn28: the dense width (first entry)
};

struct ClassifierTrainOptions {
  int epochs = 30;
  int batch_size = 64;
  double learning_rate = 1e-3;
  uint64_t seed = 0;  // initialisation and shuffling (not privacy noise)
  int threads = 0;    // 0 = all cores
};

class Classifier {
 public:
  static absl::StatusOr<std::unique_ptr<Classifier>> Create(const ClassifierSpec& spec,
                                                            uint64_t seed);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Adam on the cross-entropy for a fixed number of epochs (no early stopping: a target model
  // is trained the way a practitioner would, and its fit is part of what is measured).
  absl::Status Train(const data::Matrix& features, const std::vector<int>& labels,
                     const ClassifierTrainOptions& options);
  // DP-SGD (dp_sgd_engine.h), every architecture by the fast per-record path (the CNN's
  // convolutions unfolded). Its randomness is keyed from `key_source`
  // (SecureRandom in production; see RunDpSgd).
  absl::StatusOr<DpTrainReport> TrainPrivately(const data::Matrix& features,
                                               const std::vector<int>& labels,
                                               const DpSgdOptions& dp,
                                               const ClassifierTrainOptions& options,
                                               privacy::RandomSource& key_source);

  // Log class probabilities (log-softmax), rows x num_classes. Logarithms, because a confident
  // model's probabilities round to exactly 1 in float and membership attacks need the
  // differences between confident predictions.
  data::Matrix LogProbabilities(const data::Matrix& features) const;

  const ClassifierSpec& spec() const;

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedsyn::model

#endif  // FEDSYN_COMMON_MODEL_CLASSIFIER_H_
