// Empirical lower bounds on epsilon from membership guesses about canaries (issue #6; DESIGN.md
// §5). A lower bound above the claimed epsilon means the mechanism or its accounting is broken.
//
//  - Threshold bound (Jagielski, Ullman, Oprea 2020): an attack with false-positive rate FPR and
//    false-negative rate FNR against an (eps, delta)-DP mechanism satisfies
//    FPR + e^eps FNR >= 1 - delta and FNR + e^eps FPR >= 1 - delta, so
//    eps >= log((1 - delta - FNR) / FPR) (and symmetrically). Using Clopper-Pearson upper
//    bounds for FPR and FNR makes it a bound at the stated confidence.
//  - One-run bound (Steinke, Nasr, Jagielski 2023): m canaries, each included independently with
//    probability 1/2; the auditor guesses r of them (abstaining on the rest) and v guesses are
//    right. Under (eps, delta)-DP the number right is dominated by Binomial(r, e^eps/(1+e^eps))
//    plus a delta term; the bound is the largest eps whose p-value stays below 1 - confidence.
#ifndef FEDSYN_COMMON_EVAL_EMPIRICAL_EPSILON_H_
#define FEDSYN_COMMON_EVAL_EMPIRICAL_EPSILON_H_

#include <cstdint>

namespace fedsyn::eval {

// Regularised incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
double RegularizedIncompleteBeta(double a, double b, double x);

struct ProportionInterval {
  double low = 0;
  double high = 1;
};
// Exact (Clopper-Pearson) two-sided interval for a binomial proportion at `confidence`.
ProportionInterval ClopperPearson(int64_t successes, int64_t trials, double confidence);

// P[Binomial(n, p) >= k].
double BinomialUpperTail(int64_t n, double p, int64_t k);

// Jagielski et al.'s bound from a threshold attack's confusion counts on the canaries:
// `false_positives` of `negatives` excluded canaries called members, `false_negatives` of
// `positives` included canaries missed. Each rate's one-sided upper bound is taken at
// (1 + confidence) / 2, so both hold together at `confidence`. Returns 0 when nothing can be
// concluded.
double ThresholdEpsilonLowerBound(int64_t false_positives, int64_t negatives,
                                  int64_t false_negatives, int64_t positives, double delta,
                                  double confidence);

// Steinke et al.'s p-value: the probability of >= v right among r guesses about m canaries
// under (epsilon, delta)-DP.
double OneRunPValue(int64_t m, int64_t r, int64_t v, double epsilon, double delta);
// The largest epsilon that (m, r, v) rejects at `confidence` (0 if none).
double OneRunEpsilonLowerBound(int64_t m, int64_t r, int64_t v, double delta, double confidence);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_EMPIRICAL_EPSILON_H_
