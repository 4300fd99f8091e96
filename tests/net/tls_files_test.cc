// net::CheckTlsFiles, what `--check-config` reports of a program's TLS files: a good kit passes,
// and each flaw is reported naming its file — a missing file, a key others can read, a key of
// another certificate, a certificate of another CA, one that expired or expires within 30 days.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/net/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class TlsFilesCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs these cases as separate processes, at the same time.
    dir_ = new std::string(testing::ScratchDir("tls_files_check_" + std::to_string(getpid())));
    const std::string pki = std::string("bash ") + FEDSYN_PKI_SCRIPT + " ";
    Run(pki + "init " + *dir_ + "/pki");
    Run(pki + "site " + *dir_ + "/pki good");
    Run(pki + "site " + *dir_ + "/pki other");
    Run(pki + "init " + *dir_ + "/rogue");
    Run(pki + "site " + *dir_ + "/rogue good");
    Run("FEDSYN_PKI_VALIDITY='20200101000000Z 20200102000000Z' " + pki + "site " + *dir_ +
        "/pki expired");
    // Valid from yesterday for 10 days: inside the 30-day warning.
    Run("FEDSYN_PKI_VALIDITY=\"$(date -u -d yesterday +%Y%m%d%H%M%SZ) $(date -u -d '+9 days' "
        "+%Y%m%d%H%M%SZ)\" " +
        pki + "site " + *dir_ + "/pki soon");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(*dir_); }
  // A failed set-up of the suite would show as skipped cases; here it fails each case.
  void SetUp() override {
    for (const char* kit : {"pki/sites/good", "pki/sites/other", "rogue/sites/good",
                            "pki/sites/expired", "pki/sites/soon"})
      ASSERT_TRUE(std::filesystem::exists(*dir_ + "/" + kit + "/site.key")) << kit;
  }
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null").c_str()), 0) << command;
  }
  static TlsFiles Site(const std::string& name, const std::string& pki = "pki") {
    const std::string kit = *dir_ + "/" + pki + "/sites/" + name;
    return {*dir_ + "/pki/ca.pem", kit + "/site.pem", kit + "/site.key"};
  }
  static std::string* dir_;
};
std::string* TlsFilesCheck::dir_ = nullptr;

TEST_F(TlsFilesCheck, AGoodKitPasses) { EXPECT_THAT(CheckTlsFiles(Site("good")), IsEmpty()); }

TEST_F(TlsFilesCheck, AMissingFileIsNamed) {
  TlsFiles files = Site("good");
  files.cert_file += ".missing";
  EXPECT_THAT(CheckTlsFiles(files), ElementsAre(HasSubstr(files.cert_file + ": no such file")));
  files = Site("good");
  files.key_file.clear();
  EXPECT_THAT(CheckTlsFiles(files), ElementsAre(HasSubstr("no private key file is named")));
}

TEST_F(TlsFilesCheck, AKeyOthersCanReadIsReported) {
  const TlsFiles files = Site("other");
  ASSERT_EQ(chmod(files.key_file.c_str(), 0644), 0);
  EXPECT_THAT(CheckTlsFiles(files),
              ElementsAre(HasSubstr(files.key_file + " is readable by others (mode 644)")));
  ASSERT_EQ(chmod(files.key_file.c_str(), 0600), 0);
  EXPECT_THAT(CheckTlsFiles(files), IsEmpty());
}

TEST_F(TlsFilesCheck, AKeyOfAnotherCertificateIsReported) {
  TlsFiles files = Site("good");
  files.key_file = Site("other").key_file;
  EXPECT_THAT(CheckTlsFiles(files),
              ElementsAre(HasSubstr(files.key_file + " does not belong to " + files.cert_file)));
}

TEST_F(TlsFilesCheck, ACertificateOfAnotherCaIsReported) {
  TlsFiles files = Site("good", "rogue");
  EXPECT_THAT(
      CheckTlsFiles(files),
      ElementsAre(HasSubstr(files.cert_file + " is not signed by the CA " + files.ca_file)));
}

TEST_F(TlsFilesCheck, ExpiredAndSoonExpiringCertificatesAreReported) {
  EXPECT_THAT(CheckTlsFiles(Site("expired")),
              ElementsAre(HasSubstr(Site("expired").cert_file + " has expired")));
  EXPECT_THAT(CheckTlsFiles(Site("soon")),
              ElementsAre(HasSubstr(Site("soon").cert_file + " expires within 30 days")));
  EXPECT_THAT(CheckTlsFiles(Site("soon"), 5), IsEmpty()) << "a shorter warning window";
}

}  // namespace
}  // namespace fedsyn::net
