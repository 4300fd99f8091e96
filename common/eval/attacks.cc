#include "common/eval/attacks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fedsyn::eval {
namespace {

// phi = log p - log(1 - p) of the true label, with log(1 - p) = logsumexp of the other classes'
// log-probabilities: exact even when p (or, in float, log p) rounds to 1 (to 0).
double LogitConfidence(const ModelOutputs& o, int64_t i) {
  const float* row = o.log_probabilities.Row(i);
  const int label = o.labels[static_cast<size_t>(i)];
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < o.log_probabilities.cols; ++c)
    if (c != label) top = std::max(top, static_cast<double>(row[c]));
  double sum = 0;
  for (int64_t c = 0; c < o.log_probabilities.cols; ++c)
    if (c != label) sum += std::exp(row[c] - top);
  return row[label] - (top + std::log(sum));
}

// log p of the true label from phi, in double: log p = -log(1 + e^-phi) = -softplus(-phi).
double LogTrueLabel(const ModelOutputs& o, int64_t i) {
  const double minus_phi = -LogitConfidence(o, i);
  return minus_phi > 30 ? -minus_phi - std::log1p(std::exp(-minus_phi))
                        : -std::log1p(std::exp(minus_phi));
}

// Shokri's attack features: the true label's probability and log-probability, the three
// largest probabilities, the entropy, and whether the prediction is right.
constexpr int kShadowFeatures = 7;
std::vector<double> ShadowFeatures(const ModelOutputs& o, int64_t i) {
  const float* log_p = o.log_probabilities.Row(i);
  const int64_t classes = o.log_probabilities.cols;
  std::vector<double> p(static_cast<size_t>(classes));
  double entropy = 0;
  for (int64_t c = 0; c < classes; ++c) {
    p[static_cast<size_t>(c)] = std::exp(static_cast<double>(log_p[c]));
    entropy -= p[static_cast<size_t>(c)] * log_p[c];
  }
  const int predicted = static_cast<int>(std::max_element(log_p, log_p + classes) - log_p);
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  sorted.resize(3, 0.0);
  const double log_truth = LogTrueLabel(o, i);
  return {std::exp(log_truth),
          log_truth,
          sorted[0],
          sorted[1],
          sorted[2],
          entropy,
          predicted == o.labels[static_cast<size_t>(i)] ? 1.0 : 0.0};
}

double SquaredDistance(const float* a, const float* b, int64_t d) {
  double sum = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double diff = static_cast<double>(a[j]) - b[j];
    sum += diff * diff;
  }
  return sum;
}

// log of a Gaussian-kernel density estimate at x, per-dimension bandwidths `h` (Scott's rule).
double LogKde(const float* x, const data::Matrix& sample, const std::vector<double>& h) {
  const int64_t d = sample.cols;
  double log_norm = -std::log(static_cast<double>(sample.rows));
  for (int64_t j = 0; j < d; ++j)
    log_norm -= std::log(h[static_cast<size_t>(j)] * std::sqrt(2 * M_PI));
  std::vector<double> exponents(static_cast<size_t>(sample.rows));
  for (int64_t r = 0; r < sample.rows; ++r) {
    const float* s = sample.Row(r);
    double e = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double z = (static_cast<double>(x[j]) - s[j]) / h[static_cast<size_t>(j)];
      e -= 0.5 * z * z;
    }
    exponents[static_cast<size_t>(r)] = e;
  }
  const double top = *std::max_element(exponents.begin(), exponents.end());
  double sum = 0;
  for (double e : exponents) sum += std::exp(e - top);
  return log_norm + top + std::log(sum);
}

std::vector<double> ScottBandwidths(const data::Matrix& sample) {
  const int64_t n = sample.rows, d = sample.cols;
  const double factor = std::pow(static_cast<double>(n), -1.0 / static_cast<double>(d + 4));
  std::vector<double> h(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, square = 0;
    for (int64_t r = 0; r < n; ++r) mean += sample.Row(r)[j];
    mean /= static_cast<double>(n);
    for (int64_t r = 0; r < n; ++r) square += std::pow(sample.Row(r)[j] - mean, 2);
    const double sd = std::sqrt(square / static_cast<double>(std::max<int64_t>(1, n - 1)));
    h[static_cast<size_t>(j)] = std::max(sd * factor, 1e-6);
  }
  return h;
}

}  // namespace

Scores LossScores(const ModelOutputs& outputs) {
  Scores scores(static_cast<size_t>(outputs.log_probabilities.rows));
  for (int64_t i = 0; i < outputs.log_probabilities.rows; ++i)
    scores[static_cast<size_t>(i)] = LogTrueLabel(outputs, i);
  return scores;
}

Scores LiraOfflineScores(const ModelOutputs& target, const std::vector<ModelOutputs>& reference,
                         const std::vector<std::vector<bool>>& reference_saw) {
  const int64_t n = target.log_probabilities.rows;
  auto usable = [&](size_t k, int64_t i) {
    return reference_saw.empty() || !reference_saw[k][static_cast<size_t>(i)];
  };
  std::vector<double> means(static_cast<size_t>(n), 0.0);
  std::vector<int> counts(static_cast<size_t>(n), 0);
  double residual_square = 0, dof = 0;
  for (int64_t i = 0; i < n; ++i) {
    const size_t at = static_cast<size_t>(i);
    for (size_t k = 0; k < reference.size(); ++k) {
      if (!usable(k, i)) continue;
      means[at] += LogitConfidence(reference[k], i);
      ++counts[at];
    }
    if (counts[at] == 0) continue;
    means[at] /= counts[at];
    for (size_t k = 0; k < reference.size(); ++k) {
      if (usable(k, i))
        residual_square += std::pow(LogitConfidence(reference[k], i) - means[at], 2);
    }
    dof += std::max(1, counts[at] - 1);
  }
  // One global standard deviation: with few reference models per-record variances are too
  // noisy (Carlini et al. use the global variance below 64 models).
  const double sd = dof > 0 ? std::max(std::sqrt(residual_square / dof), 1e-6) : 1.0;
  Scores scores(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const size_t at = static_cast<size_t>(i);
    if (counts[at] > 0) scores[at] = (LogitConfidence(target, i) - means[at]) / sd;
  }
  return scores;
}

ShadowAttack ShadowAttack::Fit(const std::vector<Shadow>& shadows) {
  std::vector<std::vector<double>> rows;
  std::vector<int> labels;
  for (const Shadow& s : shadows) {
    for (int64_t i = 0; i < s.in.log_probabilities.rows; ++i) {
      rows.push_back(ShadowFeatures(s.in, i));
      labels.push_back(1);
    }
    for (int64_t i = 0; i < s.out.log_probabilities.rows; ++i) {
      rows.push_back(ShadowFeatures(s.out, i));
      labels.push_back(0);
    }
  }
  ShadowAttack attack;
  attack.mean_.assign(kShadowFeatures, 0.0);
  attack.scale_.assign(kShadowFeatures, 1.0);
  if (rows.empty()) return attack;
  for (int j = 0; j < kShadowFeatures; ++j) {
    double mean = 0, square = 0;
    for (const auto& r : rows) mean += r[static_cast<size_t>(j)];
    mean /= static_cast<double>(rows.size());
    for (const auto& r : rows) square += std::pow(r[static_cast<size_t>(j)] - mean, 2);
    attack.mean_[static_cast<size_t>(j)] = mean;
    attack.scale_[static_cast<size_t>(j)] =
        std::max(std::sqrt(square / static_cast<double>(rows.size())), 1e-9);
  }
  LabelledData train;
  train.features = data::Matrix(static_cast<int64_t>(rows.size()), kShadowFeatures);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int j = 0; j < kShadowFeatures; ++j) {
      train.features.Row(static_cast<int64_t>(r))[j] = static_cast<float>(
          (rows[r][static_cast<size_t>(j)] - attack.mean_[static_cast<size_t>(j)]) /
          attack.scale_[static_cast<size_t>(j)]);
    }
  }
  train.labels = labels;
  train.num_classes = 2;
  attack.classifier_ = LogisticRegression::Fit(train);
  Scores in, out;
  for (size_t r = 0; r < rows.size(); ++r) {
    const double p = attack.classifier_.Probability(train.features.Row(static_cast<int64_t>(r)));
    (labels[r] == 1 ? in : out).push_back(p);
  }
  attack.threshold_ = BestThreshold(in, out);
  return attack;
}

Scores ShadowAttack::Score(const ModelOutputs& outputs) const {
  Scores scores;
  std::vector<float> standardised(kShadowFeatures);
  for (int64_t i = 0; i < outputs.log_probabilities.rows; ++i) {
    const std::vector<double> f = ShadowFeatures(outputs, i);
    for (int j = 0; j < kShadowFeatures; ++j) {
      standardised[static_cast<size_t>(j)] =
          static_cast<float>((f[static_cast<size_t>(j)] - mean_[static_cast<size_t>(j)]) /
                             scale_[static_cast<size_t>(j)]);
    }
    scores.push_back(classifier_.Probability(standardised.data()));
  }
  return scores;
}

data::Matrix Projection::Apply(const data::Matrix& m) const {
  data::Matrix out(m.rows, static_cast<int64_t>(components.size()));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (size_t c = 0; c < components.size(); ++c) {
      double dot = 0;
      for (int64_t j = 0; j < m.cols; ++j)
        dot += (m.Row(r)[j] - mean[static_cast<size_t>(j)]) * components[c][static_cast<size_t>(j)];
      out.Row(r)[c] = static_cast<float>(dot);
    }
  }
  return out;
}

Projection PrincipalComponents(const data::Matrix& reference, int components) {
  const int64_t n = reference.rows, d = reference.cols;
  Projection p;
  p.mean.assign(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) p.mean[static_cast<size_t>(j)] += reference.Row(r)[j];
  for (double& m : p.mean) m /= static_cast<double>(std::max<int64_t>(1, n));
  // Covariance (d x d), then the leading eigenvectors by power iteration with deflation.
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  std::vector<double> centred(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < d; ++j)
      centred[static_cast<size_t>(j)] = reference.Row(r)[j] - p.mean[static_cast<size_t>(j)];
    for (int64_t a = 0; a < d; ++a) {
      const double ca = centred[static_cast<size_t>(a)];
      if (ca == 0) continue;
      double* row = cov.data() + a * d;
      for (int64_t b = 0; b < d; ++b) row[b] += ca * centred[static_cast<size_t>(b)];
    }
  }
  const int wanted = static_cast<int>(std::min<int64_t>(components, d));
  std::vector<double> v(static_cast<size_t>(d)), w(static_cast<size_t>(d));
  for (int c = 0; c < wanted; ++c) {
    // A deterministic start that is not orthogonal to any direction in general.
    for (int64_t j = 0; j < d; ++j)
      v[static_cast<size_t>(j)] = 1.0 + 0.01 * static_cast<double>((j * 7919 + c * 104729) % 101);
    double eigenvalue = 0;
    for (int it = 0; it < 200; ++it) {
      for (int64_t a = 0; a < d; ++a) {
        const double* row = cov.data() + a * d;
        w[static_cast<size_t>(a)] = std::inner_product(row, row + d, v.begin(), 0.0);
      }
      const double norm = std::sqrt(std::inner_product(w.begin(), w.end(), w.begin(), 0.0));
      if (norm < 1e-12) break;
      for (int64_t j = 0; j < d; ++j) v[static_cast<size_t>(j)] = w[static_cast<size_t>(j)] / norm;
      if (std::abs(norm - eigenvalue) < 1e-9 * norm) break;
      eigenvalue = norm;
    }
    if (eigenvalue < 1e-12) break;  // the remaining variance is zero
    p.components.push_back(v);
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b)
        cov[static_cast<size_t>(a * d + b)] -=
            eigenvalue * v[static_cast<size_t>(a)] * v[static_cast<size_t>(b)];
  }
  return p;
}

Scores DensityRatioScores(const data::Matrix& candidates, const data::Matrix& synthetic,
                          const data::Matrix& reference, int components) {
  const bool with_reference = reference.rows > 0;
  const Projection projection =
      PrincipalComponents(with_reference ? reference : synthetic, components);
  const data::Matrix c = projection.Apply(candidates);
  const data::Matrix s = projection.Apply(synthetic);
  const data::Matrix r = projection.Apply(reference);
  const std::vector<double> hs = ScottBandwidths(s);
  const std::vector<double> hr = with_reference ? ScottBandwidths(r) : std::vector<double>();
  Scores scores(static_cast<size_t>(c.rows));
  for (int64_t i = 0; i < c.rows; ++i) {
    scores[static_cast<size_t>(i)] =
        LogKde(c.Row(i), s, hs) - (with_reference ? LogKde(c.Row(i), r, hr) : 0.0);
  }
  return scores;
}

Scores ClosestRecordScores(const data::Matrix& candidates, const data::Matrix& synthetic) {
  Scores scores(static_cast<size_t>(candidates.rows));
  for (int64_t i = 0; i < candidates.rows; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < synthetic.rows; ++r)
      best = std::min(best, SquaredDistance(candidates.Row(i), synthetic.Row(r), candidates.cols));
    scores[static_cast<size_t>(i)] = -std::sqrt(best);
  }
  return scores;
}

}  // namespace fedsyn::eval
