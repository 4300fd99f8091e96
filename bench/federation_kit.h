// What the coordinator benches share (ingest.cc, reliability/): site names, a PKI with many
// site certificates, the loopback address each site dials from, and a standard reservation.
#ifndef FEDSYN_BENCH_FEDERATION_KIT_H_
#define FEDSYN_BENCH_FEDERATION_KIT_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/audit/canary_protocol.h"
#include "common/privacy/budget.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/random.h"
#include "protocol/codec.h"
#include "site_agent/site_kit.h"

namespace fedsyn::bench {

inline std::string SiteName(int i) { return "site" + std::to_string(i); }

// The loopback address client `i` dials from, `per_address` clients per address (127.0.0.3
// upwards; every 127/8 address reaches the loopback interface): the coordinator caps
// connections per address, and many sites are many hosts.
inline std::string LoopbackSource(int i, int per_address) {
  const int host = 2 + i / per_address;
  return "127.0." + std::to_string(host / 250) + "." + std::to_string(host % 250 + 1);
}

// A reservation as the agent states it for `rows` records of `dataset` under a small L2
// mechanism (0.1 per unit, radius 3), with a fresh release id.
inline protocol::Reserve StandardReservation(privacy::RandomSource& rng, const std::string& dataset,
                                             int64_t rows) {
  const auto mechanism =
      privacy::MetricMechanism::Create({privacy::NoiseMetric::kL2, 0.1, 3.0, 8, std::nullopt});
  protocol::Reserve reserve{audit::NewReleaseId([&rng] { return rng.NextU64(); }), dataset,
                            *privacy::Charge::Make(mechanism->RecordEpsilon(), false, 0, 0), rows,
                            privacy::ReleaseMode::kSynthetic};
  reserve.relation = privacy::kReleaseRelation;
  reserve.mechanism = mechanism->params();  // with the grid resolved, as the agent states it
  return reserve;
}

// The kit of site `i` of the PKI in `pki` (EnsurePki) for a coordinator on localhost:`port`.
inline site::SiteKit SiteKitAt(const std::string& pki, int port, int i) {
  site::SiteKit kit;
  kit.site_id = SiteName(i);
  kit.coordinator = "localhost:" + std::to_string(port);
  kit.ca_file = pki + "/ca.pem";
  kit.cert_file = pki + "/sites/" + SiteName(i) + "/site.pem";
  kit.key_file = pki + "/sites/" + SiteName(i) + "/site.key";
  return kit;
}

inline bool RunShell(const std::string& command) {
  if (std::system(command.c_str()) == 0) return true;
  std::fprintf(stderr, "failed: %s\n", command.c_str());
  return false;
}

// A PKI in `dir` (kept between runs: made only where missing) with a coordinator certificate
// for localhost and certificates site0..site{sites-1}.
inline bool EnsurePki(const std::string& dir, int sites) {
  const std::string pki = std::string("bash ") + FEDSYN_PKI_SCRIPT + " ";
  if (!std::filesystem::exists(dir + "/ca.pem") &&
      (!RunShell(pki + "init " + dir + " >/dev/null") ||
       !RunShell(pki + "coordinator " + dir + " localhost >/dev/null")))
    return false;
  for (int i = 0; i < sites; ++i) {
    if (std::filesystem::exists(dir + "/sites/" + SiteName(i) + "/site.pem")) continue;
    if (!RunShell(pki + "site " + dir + " " + SiteName(i) + " >/dev/null")) return false;
  }
  return true;
}

}  // namespace fedsyn::bench

#endif  // FEDSYN_BENCH_FEDERATION_KIT_H_
