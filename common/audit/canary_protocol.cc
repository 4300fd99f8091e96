#include "common/audit/canary_protocol.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/base/names.h"
#include "common/privacy/digest.h"

namespace fedsyn::audit {
namespace {

// `words` x 64 random bits as lower-case hex.
std::string RandomHex(const RandomWords& random_u64, int words) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (int word = 0; word < words; ++word) {
    const uint64_t bits = random_u64();
    for (int nibble = 0; nibble < 16; ++nibble) hex += kHex[(bits >> (4 * nibble)) & 0xf];
  }
  return hex;
}

}  // namespace

std::string NewReleaseId(const RandomWords& random_u64) { return "r-" + RandomHex(random_u64, 2); }

bool IsValidReleaseId(std::string_view id) { return base::IsSafeName(id); }

data::Table MakeCanaries(const data::Schema& schema, int count, privacy::RandomSource& rng) {
  data::Table canaries;
  for (int i = 0; i < count; ++i) {
    data::Row row(schema.columns.size());
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      const data::ColumnSpec& column = schema.columns[c];
      if (column.IsCategorical()) {
        row[c] = static_cast<double>(rng.UniformBelow(column.categories.size()));
      } else if (column.IsNumeric()) {
        const double span = column.max - column.min;
        const double inset = 0.05 * rng.UniformOpen01() * span;
        double value = (rng.NextU64() & 1) ? column.max - inset : column.min + inset;
        if (column.type == data::ColumnType::kInteger)
          value = std::clamp(std::round(value), column.min, column.max);
        row[c] = value;
      }  // ignored columns stay empty
    }
    canaries.rows.push_back(std::move(row));
  }
  return canaries;
}

std::string NewSalt(const RandomWords& random_u64) { return RandomHex(random_u64, 4); }

std::string Commitment(std::string_view message, std::string_view salt_hex) {
  std::string preimage(salt_hex);
  preimage += ':';
  preimage += message;
  return privacy::Sha256Hex(preimage);
}

InclusionBits DrawInclusionBits(int pairs, const RandomWords& random_u64) {
  InclusionBits bits;
  for (int i = 0; i < pairs; ++i) bits.push_back((random_u64() & 1) != 0);
  return bits;
}

int64_t IncludedCanaryIndex(int64_t pair, bool bit) { return 2 * pair + (bit ? 1 : 0); }

std::vector<bool> IncludedCanaryFlags(const InclusionBits& bits) {
  std::vector<bool> included(2 * bits.size(), false);
  for (size_t j = 0; j < bits.size(); ++j)
    included[static_cast<size_t>(IncludedCanaryIndex(static_cast<int64_t>(j), bits[j]))] = true;
  return included;
}

bool PlausibleFairBits(const InclusionBits& bits, double tail) {
  const auto n = static_cast<double>(bits.size());
  const auto ones = static_cast<double>(std::count(bits.begin(), bits.end(), true));
  // P[X <= k] for X ~ Binomial(n, 1/2), summed in log space; the smaller tail, doubled.
  auto log_pmf = [n](double i) {
    return std::lgamma(n + 1) - std::lgamma(i + 1) - std::lgamma(n - i + 1) - n * std::log(2.0);
  };
  const double k = std::min(ones, n - ones);
  double log_tail = -INFINITY;
  for (double i = 0; i <= k; ++i) {
    const double term = log_pmf(i);
    const double hi = std::max(log_tail, term);
    log_tail = hi + std::log(std::exp(log_tail - hi) + std::exp(term - hi));
  }
  return std::log(2.0) + log_tail >= std::log(tail);
}

std::string InclusionBitsText(const InclusionBits& bits) {
  std::string text;
  for (const bool bit : bits) text += bit ? '1' : '0';
  return text;
}

std::optional<InclusionBits> ParseInclusionBits(std::string_view text) {
  if (text.find_first_not_of("01") != std::string_view::npos) return std::nullopt;
  InclusionBits bits;
  for (const char c : text) bits.push_back(c == '1');
  return bits;
}

std::string CommitToBits(const InclusionBits& bits, std::string_view salt_hex) {
  return Commitment(InclusionBitsText(bits), salt_hex);
}

absl::StatusOr<data::Table> SelectIncludedCanaries(data::Table issued, const InclusionBits& bits,
                                                   std::string_view what) {
  const std::vector<bool> included = IncludedCanaryFlags(bits);
  if (issued.rows.size() != included.size()) {
    return absl::DataLossError(std::string(what) +
                               ": canaries and inclusion bits differ in number");
  }
  data::Table canaries;
  for (size_t i = 0; i < included.size(); ++i)
    if (included[i]) canaries.rows.push_back(std::move(issued.rows[i]));
  return canaries;
}

std::vector<int64_t> PlaceCanaries(std::string_view salt_hex, data::Table canaries,
                                   data::Table& records) {
  const int64_t total = records.num_rows() + canaries.num_rows();
  const std::vector<int64_t> positions = CanaryPositions(salt_hex, total, canaries.num_rows());
  std::vector<data::Row> merged;
  merged.reserve(static_cast<size_t>(total));
  size_t next_record = 0, next_canary = 0, next_position = 0;
  for (int64_t slot = 0; slot < total; ++slot) {
    if (next_position < positions.size() && positions[next_position] == slot) {
      merged.push_back(std::move(canaries.rows[next_canary++]));
      ++next_position;
    } else {
      merged.push_back(std::move(records.rows[next_record++]));
    }
  }
  records.rows = std::move(merged);
  return positions;
}

std::vector<int64_t> CanaryPositions(std::string_view salt_hex, int64_t total, int64_t count) {
  if (count < 0 || count > total) return {};
  // A deterministic stream of 64-bit words: SHA-256(salt ":canary-positions:" counter), four
  // words per block.
  uint64_t counter = 0;
  std::string block;
  size_t used = 4;
  auto next_word = [&]() -> uint64_t {
    if (used == 4) {
      block = privacy::Sha256Hex(std::string(salt_hex) +
                                 ":canary-positions:" + std::to_string(counter++));
      used = 0;
    }
    // 16 hex digits of a SHA-256 digest: std::stoull cannot fail on them.
    return std::stoull(block.substr(16 * used++, 16), nullptr, 16);
  };
  auto below = [&](uint64_t n) {  // uniform in [0, n) by rejection
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t word = next_word();
    while (word >= limit) word = next_word();
    return word % n;
  };
  std::vector<bool> chosen(static_cast<size_t>(total), false);
  for (int64_t j = total - count; j < total; ++j) {
    const uint64_t t = below(static_cast<uint64_t>(j + 1));
    chosen[chosen[t] ? static_cast<size_t>(j) : t] = true;
  }
  std::vector<int64_t> positions;
  for (int64_t i = 0; i < total; ++i)
    if (chosen[static_cast<size_t>(i)]) positions.push_back(i);
  return positions;
}

std::string JoinPositions(const std::vector<int64_t>& positions) {
  std::string text;
  for (const int64_t p : positions) text += (text.empty() ? "" : ",") + std::to_string(p);
  return text;
}

std::optional<std::vector<int64_t>> ParsePositions(std::string_view text) {
  std::vector<int64_t> positions;
  if (text.empty()) return positions;
  const char* at = text.data();
  const char* const end = text.data() + text.size();
  while (true) {
    int64_t position = 0;
    const auto [next, error] = std::from_chars(at, end, position);
    // from_chars takes a leading '-'; positions never have one.
    if (error != std::errc() || next == at || *at == '-') return std::nullopt;
    positions.push_back(position);
    if (next == end) return positions;
    if (*next != ',') return std::nullopt;
    at = next + 1;
  }
}

absl::Status CheckReveal(std::string_view commitment, const InclusionBits& bits,
                         std::string_view salt_hex, int64_t count) {
  if (count % 2 != 0 || static_cast<int64_t>(bits.size()) != count / 2) {
    return absl::InvalidArgumentError("the revealed bits must be one per canary pair (" +
                                      std::to_string(count / 2) + ")");
  }
  if (CommitToBits(bits, salt_hex) != commitment) {
    return absl::InvalidArgumentError(
        "the revealed bits and salt do not match the commitment made before the release");
  }
  if (!PlausibleFairBits(bits)) {
    return absl::InvalidArgumentError(
        "the revealed bits are not plausible as fair coin flips (two-sided binomial test, "
        "p < 1e-6)");
  }
  return absl::OkStatus();
}

const char* AuditStateName(AuditState state) {
  switch (state) {
    case AuditState::kIssued:
      return "issued";
    case AuditState::kCommitted:
      return "committed";
    case AuditState::kRevealed:
      return "revealed";
    case AuditState::kInvalid:
      return "invalid";
  }
  return "invalid";
}

std::optional<AuditState> ParseAuditState(std::string_view name) {
  return base::ParseName(
      name,
      {AuditState::kIssued, AuditState::kCommitted, AuditState::kRevealed, AuditState::kInvalid},
      &AuditStateName);
}

const char* AuditStatusName(AuditStatus status) {
  switch (status) {
    case AuditStatus::kPending:
      return "pending";
    case AuditStatus::kPassed:
      return "passed";
    case AuditStatus::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<AuditStatus> ParseAuditStatus(std::string_view name) {
  return base::ParseName(name, {AuditStatus::kPending, AuditStatus::kPassed, AuditStatus::kFailed},
                         &AuditStatusName);
}

}  // namespace fedsyn::audit
