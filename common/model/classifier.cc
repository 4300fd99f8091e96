#include "common/model/classifier.h"

#include "common/model/dp_sgd_engine.h"
#include "common/model/vae_net.h"

namespace fedsyn::model {

struct ClassifierNet : nn::Module {
  explicit ClassifierNet(const ClassifierSpec& s) : spec(s) {
    if (spec.architecture == ClassifierArchitecture::kCnn28) {
      const int dense = spec.hidden.empty() ? 64 : spec.hidden.front();
      layers->push_back(nn::Unflatten(nn::UnflattenOptions(1, {1, 28, 28})));
      layers->push_back(nn::Conv2d(nn::Conv2dOptions(1, 16, 5).stride(2).padding(2)));  // 14x14
      layers->push_back(nn::ReLU());
      layers->push_back(nn::Conv2d(nn::Conv2dOptions(16, 32, 5).stride(2).padding(2)));  // 7x7
      layers->push_back(nn::ReLU());
      layers->push_back(nn::Flatten());
      layers->push_back(nn::Linear(32 * 7 * 7, dense));
      layers->push_back(nn::ReLU());
      layers->push_back(nn::Linear(dense, spec.num_classes));
    } else {
      int width = spec.input_width;
      if (spec.architecture == ClassifierArchitecture::kMlp) {
        for (int h : spec.hidden) {
          layers->push_back(nn::Linear(width, h));
          layers->push_back(nn::ReLU());
          width = h;
        }
      }
      layers->push_back(nn::Linear(width, spec.num_classes));
    }
    register_module("layers", layers);
  }
  torch::Tensor Logits(const torch::Tensor& x) { return layers->forward(x); }

  ClassifierSpec spec;
  nn::Sequential layers;
};

struct Classifier::Impl {
  explicit Impl(const ClassifierSpec& spec) : net(std::make_shared<ClassifierNet>(spec)) {}
  std::shared_ptr<ClassifierNet> net;
};

namespace {

torch::Tensor LabelTensor(const std::vector<int>& labels) {
  std::vector<int64_t> wide(labels.begin(), labels.end());
  return torch::tensor(wide, torch::kLong);
}

absl::Status CheckData(const ClassifierSpec& spec, const data::Matrix& features,
                       const std::vector<int>& labels) {
  if (features.cols != spec.input_width)
    return absl::InvalidArgumentError("feature width does not match the classifier");
  if (static_cast<int64_t>(labels.size()) != features.rows)
    return absl::InvalidArgumentError("one label per record is needed");
  for (int label : labels) {
    if (label < 0 || label >= spec.num_classes)
      return absl::InvalidArgumentError("label outside the classifier's classes");
  }
  if (features.rows < 2) return absl::InvalidArgumentError("at least two records are needed");
  return absl::OkStatus();
}

}  // namespace

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::~Classifier() = default;

absl::StatusOr<std::unique_ptr<Classifier>> Classifier::Create(const ClassifierSpec& spec,
                                                               uint64_t seed) {
  if (spec.num_classes < 2) return absl::InvalidArgumentError("a classifier needs two classes");
  if (spec.architecture == ClassifierArchitecture::kCnn28 && spec.input_width != 784)
    return absl::InvalidArgumentError("the CNN takes 28x28 images (784 features)");
  if (spec.input_width < 1) return absl::InvalidArgumentError("no input features");
  torch::manual_seed(seed);  // initialisation (not privacy noise)
  return std::unique_ptr<Classifier>(new Classifier(std::make_unique<Impl>(spec)));
}

const ClassifierSpec& Classifier::spec() const { return impl_->net->spec; }

absl::Status Classifier::Train(const data::Matrix& features, const std::vector<int>& labels,
                               const ClassifierTrainOptions& options) {
  ClassifierNet& net = *impl_->net;
  RETURN_IF_ERROR(CheckData(net.spec, features, labels));
  if (options.epochs < 1 || options.batch_size < 1 || !(options.learning_rate > 0))
    return absl::InvalidArgumentError("invalid training options");
  SetComputeThreads(options.threads);
  torch::manual_seed(options.seed);
  const torch::Tensor x = ToTensor(features);
  const torch::Tensor y = LabelTensor(labels);
  torch::optim::Adam optimizer(net.parameters(), torch::optim::AdamOptions(options.learning_rate));
  net.train();
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(features.rows, torch::kLong);
    for (int64_t start = 0; start < features.rows; start += options.batch_size) {
      const torch::Tensor index =
          order.narrow(0, start, std::min<int64_t>(options.batch_size, features.rows - start));
      optimizer.zero_grad();
      F::cross_entropy(net.Logits(x.index_select(0, index)), y.index_select(0, index)).backward();
      optimizer.step();
    }
  }
  net.eval();
  return absl::OkStatus();
}

absl::StatusOr<DpTrainReport> Classifier::TrainPrivately(const data::Matrix& features,
                                                         const std::vector<int>& labels,
                                                         const DpSgdOptions& dp,
                                                         const ClassifierTrainOptions& options,
                                                         privacy::RandomSource& key_source) {
  ClassifierNet& net = *impl_->net;
  RETURN_IF_ERROR(CheckData(net.spec, features, labels));
  const int threads = SetComputeThreads(options.threads);
  const torch::Tensor x = ToTensor(features);
  const torch::Tensor y = LabelTensor(labels);
  base::NullProgress progress;
  ASSIGN_OR_RETURN(
      DpTrainReport report,
      RunDpSgd(
          net, features.rows, dp, options.learning_rate, key_source,
          [&](const torch::Tensor& chosen, double row_clip_norm,
              privacy::RandomSource&) -> ClippedBatch {
            const torch::Tensor xs = x.index_select(0, chosen);
            const torch::Tensor ys = y.index_select(0, chosen);
            LayerTrace trace;
            const torch::Tensor logits = trace.ApplySequential(net.layers, xs);
            return trace.Clip(
                F::cross_entropy(logits, ys, F::CrossEntropyFuncOptions().reduction(torch::kNone)),
                net.parameters(), row_clip_norm);
          },
          progress));
  report.train.threads = threads;
  net.eval();
  return report;
}

data::Matrix Classifier::LogProbabilities(const data::Matrix& features) const {
  ClassifierNet& net = *impl_->net;
  torch::NoGradGuard no_grad;
  net.eval();
  return ToMatrix(torch::log_softmax(net.Logits(ToTensor(features)), 1));
}

}  // namespace fedsyn::model
