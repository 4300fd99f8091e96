// The canary-audit protocol both sides follow (docs/audits.md; DESIGN.md §5). In order:
//
//  1. the site names its release (NewReleaseId) and asks the coordinator for an audit job;
//  2. the coordinator issues 2m canaries (MakeCanaries) in pairs (2j, 2j + 1); the site draws one
//  fair bit per
//     pair (DrawInclusionBits), which picks the pair's included canary (IncludedCanaryIndex),
//     and commits to the bits under a fresh secret salt (NewSalt, Commitment) before releasing;
//  3. the release carries the included canaries at the rows the salt determines
//     (CanaryPositions: uniformly random, secret until the reveal, fixed by the commitment);
//  4. after the release is committed, the site reveals bits, salt and positions; the
//     coordinator checks them (CheckReveal, and recomputes the positions) before judging.
//
// Exactly one canary per pair goes in whatever the bits, so the release's row count says nothing
// about them: the audit matches the replace-one guarantee (n public). Scoring and judging are the
// coordinator's (coordinator/canary_audit.h); this file holds only what both sides must agree on.
#ifndef FEDSYN_COMMON_AUDIT_CANARY_PROTOCOL_H_
#define FEDSYN_COMMON_AUDIT_CANARY_PROTOCOL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/privacy/random.h"

namespace fedsyn::audit {

// A source of uniformly random 64-bit words (the secure generator in production).
using RandomWords = std::function<uint64_t()>;

// A fresh release id: "r-" and 128 random bits in hex. Ids double as audit-job ids.
std::string NewReleaseId(const RandomWords& random_u64);
// What the coordinator accepts as a release id from a peer: 1 to 64 characters of [A-Za-z0-9_-]
// (base::IsSafeName), so an id is safe in paths, logs and SQL.
bool IsValidReleaseId(std::string_view id);

// `count` valid records of `schema` (an even number: pairs 2j, 2j+1,
// IncludedCanaryIndex), each from a sparse corner of the declared domain: every
// numeric value in the outer 5% of its range (low or high end at random; integers rounded),
// every category uniformly at random, never missing. Real records rarely look like that, so a
// released row near a canary is evidence that the canary was in the input.
data::Table MakeCanaries(const data::Schema& schema, int count, privacy::RandomSource& rng);

// A fresh 256-bit commitment salt in hex.
std::string NewSalt(const RandomWords& random_u64);
// A hash commitment to `message`: SHA-256 of the salt, a separator and the message. With a
// 256-bit secret salt it hides the message until both are revealed and binds the committer to
// it (finding another (salt, message) with the same hash would break SHA-256).
std::string Commitment(std::string_view message, std::string_view salt_hex);

// One bit per canary pair: false includes the pair's first canary (2j), true its second
// (2j + 1).
using InclusionBits = std::vector<bool>;
// `pairs` independent fair bits, one per canary pair.
InclusionBits DrawInclusionBits(int pairs, const RandomWords& random_u64);
// Pair j's bit picks the included canary: false the first (2j), true the second (2j + 1).
int64_t IncludedCanaryIndex(int64_t pair, bool bit);
// For each of the 2 * bits.size() canaries, whether it is included.
std::vector<bool> IncludedCanaryFlags(const InclusionBits& bits);
// False when `bits` are implausible as fair coin flips: the two-sided binomial test of their
// number of ones has a p-value below `tail` (default 1e-6). An honest site fails it with
// probability below `tail`; all ones (or all zeros) fail it from 21 bits on.
bool PlausibleFairBits(const InclusionBits& bits, double tail = 1e-6);
// The bits as the text the commitment hashes and both ledgers store: "0110" (one '0' / '1'
// per pair), and back; nullopt for any other character.
std::string InclusionBitsText(const InclusionBits& bits);
std::optional<InclusionBits> ParseInclusionBits(std::string_view text);
// The commitment to `bits` under `salt_hex`: Commitment(InclusionBitsText(bits), salt_hex).
std::string CommitToBits(const InclusionBits& bits, std::string_view salt_hex);

// Where a release of `total` rows carries its `count` included canaries: a uniformly random
// `count`-subset of [0, total), ascending, derived from the audit's secret salt. The salt is
// committed before the release and revealed after it, so the positions stay secret until the
// reveal, cannot be chosen after the commitment, and the coordinator recomputes them instead of
// trusting them. (SHA-256 in counter mode as the generator; Floyd's subset sampling; rejection
// for exact uniformity.) Empty unless 0 <= count <= total.
std::vector<int64_t> CanaryPositions(std::string_view salt_hex, int64_t total, int64_t count);
// The included canaries among the issued ones (2 per pair, in issue order), in pair order.
// DataLoss (naming `what`) when the issued canaries are not two per bit.
absl::StatusOr<data::Table> SelectIncludedCanaries(data::Table issued, const InclusionBits& bits,
                                                   std::string_view what);
// Places `canaries` among `records` at CanaryPositions(salt_hex, records + canaries, canaries)
// in order, the records keeping theirs around them; returns the positions.
std::vector<int64_t> PlaceCanaries(std::string_view salt_hex, data::Table canaries,
                                   data::Table& records);
// Their stored form: "3,17,40" ("" for none), and back; nullopt unless the text is
// non-negative decimal integers, comma-separated. (Any order: an invalid reveal is stored as
// the peer sent it.)
std::string JoinPositions(const std::vector<int64_t>& positions);
std::optional<std::vector<int64_t>> ParsePositions(std::string_view text);

// Checks a reveal against the commitment made before the release, for `count` issued canaries:
// InvalidArgument if the bits are malformed (one '0'/'1' per pair), do not hash to the
// commitment, or are implausible as fair coins (a site revealing, say, all ones did not draw
// them honestly).
absl::Status CheckReveal(std::string_view commitment, const InclusionBits& bits,
                         std::string_view salt_hex, int64_t count);

// The coordinator's record of one audit: issued (canaries sent) -> committed (the site's
// commitment to its inclusion bits, before it trains and reserves) -> revealed (after the
// release is committed: bits and salt match the commitment) or invalid (they do not). The
// site sees it on the wire; the coordinator stores it under AuditStateName.
enum class AuditState { kIssued, kCommitted, kRevealed, kInvalid };
const char* AuditStateName(AuditState state);
// The inverse of AuditStateName; nullopt for any other text.
std::optional<AuditState> ParseAuditState(std::string_view name);

// Where an audited release stands at the coordinator's release gate (docs/audits.md): pending
// until a verdict exists, then passed or failed; operators see it over the admin API.
enum class AuditStatus { kPending, kPassed, kFailed };
const char* AuditStatusName(AuditStatus status);
// The inverse of AuditStatusName; nullopt for any other text.
std::optional<AuditStatus> ParseAuditStatus(std::string_view name);

}  // namespace fedsyn::audit

#endif  // FEDSYN_COMMON_AUDIT_CANARY_PROTOCOL_H_
