// The federation end to end on loopback with real components: TLS 1.3 with certificates made
// by deploy/pki/pki.sh, Cap'n Proto frames, SQLite, trained models, the secure generator's
// stand-in only for test reproducibility of the *training*; noise uses SeededRandom so that a
// failure replays.
#include "absl/cleanup/cleanup.h"
#include "common/net/tls_impl.h"
#include "tests/integration/federation_fixture.h"

namespace fedsyn::testing_federation {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST_F(Federation, FourHospitalsReleaseAndTheExportHoldsExactlyTheirCommittedRows) {
  std::map<std::string, std::string> spooled, released;
  for (const std::string& site : kSites) {
    auto summary = Submit(site);
    ASSERT_TRUE(summary.ok()) << site << ": " << summary.status();
    EXPECT_TRUE(summary->committed);
    EXPECT_EQ(summary->charge_micros, 6'001'382);
    spooled[site] = *site::SpoolRows(summary->spool_path);
    released[site] = summary->release_id;
  }
  auto unaudited =
      coordinator::ExportPooledCsv(*storage_, config_, "heart", /*with_site_column=*/true, rng_);
  ASSERT_TRUE(unaudited.ok());
  EXPECT_EQ(unaudited->held_back.size(), 4u) << "no audits declared: the gate holds all back";
  for (const std::string& site : kSites) {
    ASSERT_TRUE(storage_->Approve({released[site], "operator", "demo data", 1}).ok());
  }
  auto pooled =
      coordinator::ExportPooledCsv(*storage_, config_, "heart", /*with_site_column=*/true, rng_);
  ASSERT_TRUE(pooled.ok());
  EXPECT_TRUE(pooled->held_back.empty());
  std::map<std::string, std::string> by_site;
  std::istringstream lines(pooled->csv);
  std::string line;
  std::getline(lines, line);  // header
  EXPECT_THAT(line, ::testing::StartsWith("site,age,"));
  int rows = 0;
  while (std::getline(lines, line)) {
    const size_t comma = line.find(',');
    by_site[line.substr(0, comma)] += line.substr(comma + 1) + "\n";
    ++rows;
  }
  EXPECT_EQ(rows, 303 + 294 + 123 + 200);
  // Exactly the committed rows, in a secure random order: as multisets equal, as sequences not
  // (each site's rows in their spooled order has probability 1/n! under the shuffle).
  auto sorted_lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    std::sort(out.begin(), out.end());
    return out;
  };
  for (const std::string& site : kSites) {
    EXPECT_EQ(sorted_lines(by_site[site]), sorted_lines(spooled[site])) << site;
    EXPECT_NE(by_site[site], spooled[site]) << site << ": the export kept the release's order";
  }
  for (const std::string& site : kSites) EXPECT_EQ(Spent(site), 6'001'382);

  auto status = coordinator::QueryAdmin(
      config_.admin_listen,
      {g_dir + "/pki/ca.pem", g_dir + "/pki/admins/operator.pem",
       g_dir + "/pki/admins/operator.key"},
      protocol::AdminRequest{protocol::kProtocolVersion, protocol::AdminQuery::kStatus});
  ASSERT_TRUE(status.ok()) << status.status();
  const auto& sites = std::get<std::vector<protocol::SiteStatus>>(*status);
  ASSERT_EQ(sites.size(), 4u);
  EXPECT_EQ(sites[0].site_id, "cleveland");
  EXPECT_EQ(sites[0].releases, 1);
  EXPECT_EQ(sites[0].rows, 303);
  EXPECT_EQ(sites[0].last_seen_unix, kFakeNow) << "the sessions read the clock they were given";
  // The certificate it connected with, as the CA's index names it, for `fedsyn-coordinator sites`.
  FILE* pem = std::fopen((g_dir + "/pki/sites/cleveland/site.pem").c_str(), "r");
  ASSERT_NE(pem, nullptr);
  X509* certificate = PEM_read_X509(pem, nullptr, nullptr, nullptr);
  std::fclose(pem);
  ASSERT_NE(certificate, nullptr);
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  char* hex = BN_bn2hex(serial);
  EXPECT_EQ(sites[0].certificate_serial, hex);
  OPENSSL_free(hex);
  BN_free(serial);
  X509_free(certificate);
  EXPECT_GT(sites[0].certificate_not_after_unix, kFakeNow + 365 * 86400) << "825 days from issue";
}

TEST_F(Federation, RefusesConnectionsWithoutAValidSiteCertificate) {
  auto fails = [&](const site::SiteKit& kit) {
    auto client = site::CoordinatorClient::Connect(kit, FastClient(), [] { return 0.5; });
    return !client.ok();
  };
  EXPECT_TRUE(fails(Kit("cleveland", "rogue"))) << "certificate from another CA";
  site::SiteKit expired = Kit("expired");
  EXPECT_TRUE(fails(expired)) << "expired certificate";
  // No client certificate at all: a client context without cert/key.
  {
    auto context = std::make_shared<net::TlsContext>(boost::asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->ssl().native_handle(), TLS1_3_VERSION);
    context->ssl().load_verify_file(g_dir + "/pki/ca.pem");
    context->ssl().set_verify_mode(boost::asio::ssl::verify_peer);
    auto connection =
        net::DialTls("localhost", server_->site_port(), context, std::chrono::seconds(3));
    // TLS 1.3 reports the client-certificate failure after the handshake: the first read fails.
    const bool refused =
        !connection.ok() ||
        !(*connection)
             ->WriteFrame(protocol::EncodeSiteRequest(protocol::Hello{}), milliseconds(2000))
             .ok() ||
        !(*connection)->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000)).ok();
    EXPECT_TRUE(refused) << "no client certificate";
  }
  // TLS 1.2 only.
  {
    auto context = net::MakeTlsContext(
        {g_dir + "/pki/ca.pem", g_dir + "/pki/sites/va/site.pem", g_dir + "/pki/sites/va/site.key"},
        net::Role::kClient);
    ASSERT_TRUE(context.ok());
    SSL_CTX_set_min_proto_version((*context)->ssl().native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version((*context)->ssl().native_handle(), TLS1_2_VERSION);
    EXPECT_FALSE(
        net::DialTls("localhost", server_->site_port(), *context, std::chrono::seconds(3)).ok())
        << "TLS 1.2";
  }
  // Plain TCP speaking garbage.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->site_port()});
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(std::string("GET / HTTP/1.0\r\n\r\n")), ec);
    char reply[64];
    socket.read_some(boost::asio::buffer(reply), ec);
    EXPECT_TRUE(ec) << "plain TCP must be dropped";
  }
  // An admin certificate on the site API.
  {
    auto context = net::MakeTlsContext({g_dir + "/pki/ca.pem", g_dir + "/pki/admins/operator.pem",
                                        g_dir + "/pki/admins/operator.key"},
                                       net::Role::kClient);
    auto connection =
        net::DialTls("localhost", server_->site_port(), *context, std::chrono::seconds(3));
    ASSERT_TRUE(connection.ok());
    (void)(*connection)
        ->WriteFrame(protocol::EncodeSiteRequest(protocol::Hello{}), milliseconds(2000));
    EXPECT_FALSE((*connection)->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000)).ok());
  }
  // A site certificate on the admin API.
  EXPECT_FALSE(coordinator::QueryAdmin(config_.admin_listen,
                                       {g_dir + "/pki/ca.pem", g_dir + "/pki/sites/va/site.pem",
                                        g_dir + "/pki/sites/va/site.key"},
                                       protocol::AdminRequest{protocol::kProtocolVersion,
                                                              protocol::AdminQuery::kBudgets},
                                       std::chrono::seconds(3))
                   .ok());
  EXPECT_TRUE(storage_->ListReleases()->empty());
  ExpectStillServing();
}

TEST_F(Federation, RefusesMalformedTrafficFromAnAuthenticatedSite) {
  {  // A frame over the size limit: refused from its header, before allocation; connection closed.
    auto connection = RawSiteConnection("cleveland");
    (void)connection->WriteFrame(std::string(protocol::kMaxMessageBytes + 8, 'x'),
                                 milliseconds(3000));
    EXPECT_FALSE(connection->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000)).ok());
  }
  {  // Bytes that are not Cap'n Proto.
    auto connection = RawSiteConnection("cleveland");
    ASSERT_TRUE(connection->WriteFrame(std::string(64, '\x7f'), milliseconds(1000)).ok());
    auto reply = connection->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000));
    ASSERT_TRUE(reply.ok());
    auto decoded = protocol::DecodeSiteResponse(*reply);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<protocol::Error>(*decoded).code, absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(connection->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000)).ok())
        << "then closed";
  }
  {  // A hello in another protocol version.
    auto connection = RawSiteConnection("cleveland");
    ASSERT_TRUE(
        connection
            ->WriteFrame(protocol::EncodeSiteRequest(protocol::Hello{7, "old"}), milliseconds(1000))
            .ok());
    auto reply = protocol::DecodeSiteResponse(
        *connection->ReadFrame(protocol::kMaxMessageBytes, milliseconds(2000)));
    ASSERT_TRUE(reply.ok());
    EXPECT_THAT(std::get<protocol::Error>(*reply).message,
                HasSubstr("protocol version 7 is not supported"));
  }
  EXPECT_TRUE(storage_->ListReleases()->empty());
  EXPECT_EQ(Spent("cleveland"), 0);
  ExpectStillServing();
}

TEST_F(Federation, BudgetExhaustionIsRefusedWithTheRemainderAndTheSiteRefusesFirst) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit("va").ok());
  auto fourth = Submit("va");  // 4 x 6.001382 > 20
  ASSERT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(fourth.status().message()), HasSubstr("remaining 1.995854 epsilon"));
  EXPECT_EQ(Spent("va"), 3 * 6'001'382);
  auto ledger = site::LocalLedger::Open(Kit("va").ledger_path);
  EXPECT_EQ(*(*ledger)->Spent("heart"), 3 * 6'001'382)
      << "the refused reservation was returned locally";
  EXPECT_EQ((*ledger)->Releases()->back().state, site::SiteReleaseState::kRefused);

  // A site whose own limit is lower refuses before the coordinator is charged.
  auto local = site::SubmitRelease(Release("cleveland"), Kit("cleveland", "pki", 5'000'000),
                                   "heart", rng_, FastClient());
  ASSERT_EQ(local.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(local.status().message()), HasSubstr("this site's own budget"));
  EXPECT_EQ(Spent("cleveland"), 0);
}

TEST_F(Federation, ConcurrentReservationsOverTheWireNeverOverspend) {
  std::atomic<int> granted = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] {
      // 64 handshakes at once on 2 cores can outlast a connect attempt: retry, so the test
      // counts refusals for budget, not connections the machine was too busy to accept.
      site::ClientOptions patient = FastClient();
      patient.connect_attempts = 10;
      patient.backoff_base = milliseconds(50);
      auto client = site::CoordinatorClient::Connect(Kit("hungarian"), patient, [] { return 0.5; });
      ASSERT_TRUE(client.ok()) << client.status();
      const protocol::Reserve reserve = OneEpsilonReservation("c-" + std::to_string(i));
      auto reserved = (*client)->Reserve(reserve);
      if (reserved.ok()) ++granted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 20);
  EXPECT_EQ(Spent("hungarian"), kCoordinatorLimit);
}

TEST_F(Federation, AnAgentKilledMidUploadResumesAndCommitsExactlyOnce) {
  site::ClientOptions small_chunks = FastClient();
  small_chunks.chunk_bytes = 2048;  // ~40 rows per chunk: 303 rows make 8 chunks
  auto partial = Submit("cleveland", /*max_chunks=*/3, small_chunks);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE(partial->committed);
  auto record = storage_->GetRelease(partial->release_id);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->next_chunk, 3u);
  EXPECT_EQ((*record)->status, coordinator::ReleaseStatus::kReserved);
  auto before = coordinator::ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->exported.empty() && before->held_back.empty())
      << "nothing pooled before the commit";

  const std::string bytes_before = *site::SpoolRows(partial->spool_path);
  auto resumed = site::ResumePending(Kit("cleveland"), FastClient(), [] { return 0.5; });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);
  EXPECT_EQ(*site::SpoolRows(partial->spool_path), bytes_before)
      << "the same bytes, no fresh noise";
  EXPECT_EQ((*storage_->GetRelease(partial->release_id))->status,
            coordinator::ReleaseStatus::kCommitted);
  EXPECT_EQ(*storage_->ReleaseContent(partial->release_id), bytes_before);
  EXPECT_EQ(Spent("cleveland"), 6'001'382) << "charged once";
  EXPECT_EQ(*site::ResumePending(Kit("cleveland"), FastClient(), [] { return 0.5; }), 0)
      << "nothing left to do";
}

// A revoked site is refused at its next handshake — the coordinator re-reads the CRL without a
// restart — nothing it attempts afterwards reaches the ledger, and the others are served.
TEST_F(Federation, ARevokedSiteIsRefusedAndNothingOfItsLaterAttemptsIsCharged) {
  ASSERT_TRUE(Submit("switzerland").ok());
  const int64_t spent = Spent("switzerland");
  const size_t releases = storage_->ListReleases()->size();
  Shell(Pki() + "revoke " + g_dir + "/pki switzerland >/dev/null");
  // Later tests of this process get the site back, with a fresh certificate.
  absl::Cleanup reissue = [] { Shell(Pki() + "site " + g_dir + "/pki switzerland >/dev/null"); };

  auto refused = Submit("switzerland");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("revoked"));
  EXPECT_EQ(Spent("switzerland"), spent) << "nothing charged";
  EXPECT_EQ(storage_->ListReleases()->size(), releases) << "no release recorded";
  ExpectStillServing();
  EXPECT_TRUE(Submit("cleveland").ok());
}

TEST_F(Federation, ARestartedCoordinatorKeepsItsLedgerAndAgentsReconnect) {
  ASSERT_TRUE(Submit("switzerland").ok());
  site::ClientOptions small_chunks = FastClient();
  small_chunks.chunk_bytes = 1024;
  auto partial = Submit("switzerland", /*max_chunks=*/1, small_chunks);
  ASSERT_TRUE(partial.ok());
  StopCoordinator();
  // While it is down, the agent cannot finish (and says so).
  site::ClientOptions patient = FastClient();
  patient.connect_attempts = 1;
  EXPECT_EQ(site::ResumePending(Kit("switzerland"), patient, [] { return 0.5; }).status().code(),
            absl::StatusCode::kUnavailable);
  StartCoordinator();
  EXPECT_EQ(Spent("switzerland"), 2 * 6'001'382);
  auto resumed = site::ResumePending(Kit("switzerland"), FastClient(), [] { return 0.5; });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);
  EXPECT_EQ(storage_->ListReleases()->size(), 2u);
  const auto releases = storage_->ListReleases();
  for (const auto& r : *releases) EXPECT_EQ(r.status, coordinator::ReleaseStatus::kCommitted);
}

TEST_F(Federation, PresentAgentsHeartbeatAndReconnectAfterACoordinatorRestart) {
  std::atomic<bool> stop = false;
  site::ClientOptions options = FastClient();
  options.backoff_cap = milliseconds(100);
  const site::SiteKit kit = Kit("hungarian");
  std::thread presence(
      [&] { site::KeepPresence(kit, options, milliseconds(50), stop, [] { return 0.5; }); });
  auto wait_until_connected = [&] {
    for (int i = 0; i < 100 && (!server_ || !server_->ConnectedSites().contains("hungarian"));
         ++i) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    return server_ && server_->ConnectedSites().contains("hungarian");
  };
  EXPECT_TRUE(wait_until_connected());
  StopCoordinator();
  std::this_thread::sleep_for(milliseconds(200));
  StartCoordinator();
  EXPECT_TRUE(wait_until_connected()) << "the agent came back after the restart";
  stop = true;
  presence.join();
  const auto seen = storage_->SitesSeen();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_GT(seen->at(0).last_seen_unix, 0);
}

TEST_F(Federation, ADpTrainedModelNeedsNoFlagAndItsEpsilonIsChargedOnce) {
  // Its epsilon is charged to the dataset it was trained for: a model that names another
  // dataset, or none, is refused before anything is reserved.
  for (const std::string named : {"", "adult"}) {
    ASSERT_GT(TrainDpModel("va", dir_ + "/elsewhere.model", named), 0);
    site::ReleaseRequest elsewhere = Release("va");
    elsewhere.model_path = dir_ + "/elsewhere.model";
    auto refused = site::SubmitRelease(elsewhere, Kit("va"), "heart", rng_, FastClient());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << named;
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr(named.empty() ? "--dataset heart" : "trained for dataset 'adult'"));
  }
  EXPECT_EQ(Spent("va"), 0);
  const int64_t model_micros = TrainDpModel("va", dir_ + "/dp.model");
  ASSERT_GT(model_micros, 0);
  EXPECT_LE(model_micros, 2'000'001);

  site::ReleaseRequest release = Release("va");
  release.model_path = dir_ + "/dp.model";
  release.allow_nonprivate_model = false;  // not needed: the model is private
  auto first = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->charged_micros, 6'001'382 + model_micros);
  EXPECT_THAT(first->guarantee, HasSubstr("private training"));
  auto second = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->charged_micros, 6'001'382) << "the model was paid for by the first release";
  EXPECT_EQ(Spent("va"), 2 * 6'001'382 + model_micros);
  auto ledger = site::LocalLedger::Open(Kit("va").ledger_path);
  EXPECT_EQ(*(*ledger)->Spent("heart"), 2 * 6'001'382 + model_micros) << "the site's ledger agrees";
  const auto local_releases = (*ledger)->Releases();
  ASSERT_TRUE(local_releases.ok()) << local_releases.status();
  for (const site::LocalRelease& r : *local_releases)
    EXPECT_EQ(r.relation, "replace-one (n public)") << "both ledgers state the relation";
  EXPECT_EQ((**storage_->GetRelease(first->release_id)).relation, "replace-one (n public)");
}

TEST_F(Federation, CodesModeShipsTheDecoderAndTheExportDecodesTheCodes) {
  // A decoder trained in the clear never leaves the site, whatever the flags say.
  site::ReleaseRequest clear = Release("hungarian");
  clear.mode = site::ReleaseMode::kCodes;
  auto refused = site::SubmitRelease(clear, Kit("hungarian"), "heart", rng_, FastClient());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Spent("hungarian"), 0);

  const int64_t model_micros = TrainDpModel("hungarian", dir_ + "/dp.model");
  ASSERT_GT(model_micros, 0);
  site::ReleaseRequest codes = Release("hungarian");
  codes.model_path = dir_ + "/dp.model";
  codes.allow_nonprivate_model = false;
  codes.mode = site::ReleaseMode::kCodes;
  // The agent stops after 2 chunks; resume sends the decoder again, then the rest.
  site::ClientOptions small_chunks = FastClient();
  small_chunks.chunk_bytes = 2048;
  auto partial =
      site::SubmitRelease(codes, Kit("hungarian"), "heart", rng_, small_chunks, /*max_chunks=*/2);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE(partial->committed);
  EXPECT_EQ(partial->charged_micros, 6'001'382 + model_micros);
  auto resumed = site::ResumePending(Kit("hungarian"), FastClient(), [] { return 0.5; });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);

  const auto record = *storage_->GetRelease(partial->release_id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->mode, privacy::ReleaseMode::kCodes);
  EXPECT_EQ(record->status, coordinator::ReleaseStatus::kCommitted);
  EXPECT_EQ(*storage_->ReleaseContent(partial->release_id), *site::SpoolRows(partial->spool_path))
      << "the coordinator holds exactly the spooled codes";
  const auto decoder = storage_->ModelBytes(record->charge.model_sha256);
  ASSERT_TRUE(decoder.ok() && decoder->has_value());
  EXPECT_EQ(**decoder, *data::ReadFileToString(site::PublishedModelPath(partial->spool_path)));

  ASSERT_TRUE(storage_->Approve({partial->release_id, "operator", "codes test", 1}).ok());
  auto pooled = coordinator::ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  auto records = data::ParseCsvTable(pooled->csv, config_.datasets[0].schema, "pooled",
                                     data::OutputCsvFormat());
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->report.rows, 294);

  // The same model in synthetic mode: identified by the same published SHA-256, so its
  // epsilon is not charged again.
  site::ReleaseRequest synthetic = codes;
  synthetic.mode = site::ReleaseMode::kSynthetic;
  auto later = site::SubmitRelease(synthetic, Kit("hungarian"), "heart", rng_, FastClient());
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->charged_micros, 6'001'382);
  EXPECT_EQ(Spent("hungarian"), 2 * 6'001'382 + model_micros);
}

TEST_F(Federation, AReleaseWhoseSchemaDiffersFromTheFederationsIsRefusedBeforeAnyCharge) {
  const std::string other_schema = dir_ + "/other.schema.toml";
  std::string text = *data::ReadFileToString(testing::DemoDataDir() +
                                             "/heart_disease_uci/heart_disease.schema.toml");
  text.replace(text.find("max = 100"), 9, "max = 110");  // age bound differs
  ASSERT_TRUE(data::WriteFileAtomically(other_schema, text).ok());
  site::TrainRequest train;
  train.input_csv = Heart("va");
  train.schema_path = other_schema;
  train.model_out = dir_ + "/other.model";
  train.train.max_epochs = 2;
  train.seed = 3;
  base::NullProgress progress;
  ASSERT_TRUE(site::RunTrain(train, progress, rng_).ok());
  site::ReleaseRequest release = Release("va");
  release.model_path = dir_ + "/other.model";
  auto refused = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("column 1 'age' has other bounds"));
  EXPECT_EQ(Spent("va"), 0);
}

// The agent's side of a canary audit over the wire: the job opens before training, the model
// learns the included canaries, the release carries them at secret positions and takes the
// job's id, an upload cut short is resumed and the reveal follows the commit; the coordinator
// then judges the release and its canary rows stay out of the export.
TEST_F(Federation, AnAuditedReleaseRevealsAfterAResumedUploadAndIsJudged) {
  config_.datasets[0].audit_canaries = 40;
  const site::SiteKit kit = Kit("cleveland");
  EXPECT_EQ(site::LoadOpenAuditJob(kit, "r-none").status().code(), absl::StatusCode::kNotFound);
  auto job = site::OpenAuditJob(kit, "heart", rng_, FastClient());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->bits.size(), 20u) << "one bit per pair of canaries";
  const auto included = static_cast<int64_t>(job->bits.size());  // one canary of each pair
  auto issued = storage_->GetAudit(job->release_id);
  ASSERT_TRUE(issued.ok() && issued->has_value());
  EXPECT_EQ((*issued)->state, coordinator::AuditState::kCommitted) << "committed before training";
  EXPECT_TRUE((*issued)->bits.empty()) << "the coordinator does not know the bits yet";

  const site::TrainRequest train =
      TrainUnderAuditJob("cleveland", dir_ + "/audited.model", *job, /*epochs=*/3, /*seed=*/2);
  base::NullProgress progress;
  auto trained = site::RunTrain(train, progress, rng_);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->rows, 303 + included) << "trained on the records and the included canaries";
  EXPECT_EQ(trained->extra_rows, included);

  site::ReleaseRequest release = Release("cleveland");
  release.audit_job = job->release_id;
  // A model trained before the job was opened cannot hold its canaries: refused, nothing spent.
  auto stale = site::SubmitRelease(release, kit, "heart", rng_, FastClient());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("not trained under audit job"));
  EXPECT_EQ(Spent("cleveland"), 0);
  release.model_path = train.model_out;
  site::ClientOptions small_chunks = FastClient();
  small_chunks.chunk_bytes = 2048;
  auto partial = site::SubmitRelease(release, kit, "heart", rng_, small_chunks, /*max_chunks=*/1);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE(partial->committed);
  EXPECT_EQ(partial->release_id, job->release_id) << "the release takes the job's id";
  EXPECT_EQ(partial->rows, 303 + included);
  EXPECT_EQ((*storage_->GetAudit(job->release_id))->state, coordinator::AuditState::kCommitted);

  auto resumed = site::ResumePending(kit, FastClient(), [] { return 0.5; });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);
  const auto revealed = **storage_->GetAudit(job->release_id);
  EXPECT_EQ(revealed.state, coordinator::AuditState::kRevealed);
  EXPECT_EQ(revealed.bits, job->bits);
  EXPECT_EQ(static_cast<int64_t>(revealed.positions.size()), included);
  EXPECT_EQ(site::SubmitRelease(release, kit, "heart", rng_, FastClient()).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "one job, one release";

  auto judged = coordinator::RunAudits(*storage_, config_, {}, rng_, 5000);
  ASSERT_TRUE(judged.ok()) << judged.status();
  ASSERT_EQ(judged->size(), 1u);
  const auto verdict = **storage_->GetVerdict(job->release_id);
  std::printf("audited release: claimed %.3f, empirical lower bound %.3f, %s\n",
              verdict.claimed_micros / 1e6, verdict.lower_bound_micros / 1e6,
              verdict.passed ? "passed" : verdict.reason.c_str());
  EXPECT_EQ(verdict.claimed_micros, 6'001'382);
  EXPECT_TRUE(verdict.passed) << verdict.reason;
  auto pooled = coordinator::ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  EXPECT_EQ(pooled->canary_rows_removed, included);
  EXPECT_EQ(std::count(pooled->csv.begin(), pooled->csv.end(), '\n') - 1, 303);
}

// The marginal generator federates as a model-only release: the fit's epsilon is the whole
// claim, charged once on both ledgers; the canaries join the measured records and no row is
// theirs (nothing is removed from the export); the audit judges it against the fit's epsilon.
TEST_F(Federation, AnAuditedMarginalReleaseChargesItsFitOnceAndIsJudged) {
  config_.datasets[0].audit_canaries = 40;
  const site::SiteKit kit = Kit("hungarian");
  auto job = site::OpenAuditJob(kit, "heart", rng_, FastClient());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->bits.size(), 20u) << "20 canaries join the measured records";
  site::MarginalSynthesisRequest request;
  request.input_csv = Heart("hungarian");
  request.schema_path = testing::DemoDataDir() + "/heart_disease_uci/heart_disease.schema.toml";
  request.epsilon = 1.5;

  // A schema other than the federation's is refused before anything is charged.
  std::string other = *data::ReadFileToString(request.schema_path);
  other.replace(other.find("max = 100"), 9, "max = 110");
  const std::string other_path = dir_ + "/other.schema.toml";
  ASSERT_TRUE(data::WriteFileAtomically(other_path, other).ok());
  site::MarginalSynthesisRequest foreign = request;
  foreign.schema_path = other_path;
  auto refused =
      site::SubmitMarginalSynthesis(foreign, job->release_id, kit, "heart", rng_, FastClient());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("federation's schema"));
  EXPECT_EQ(Spent("hungarian"), 0);

  auto submitted =
      site::SubmitMarginalSynthesis(request, job->release_id, kit, "heart", rng_, FastClient());
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_TRUE(submitted->committed);
  EXPECT_EQ(submitted->release_id, job->release_id);
  EXPECT_EQ(submitted->rows, 294) << "as many rows as the site's file (canaries not counted)";
  EXPECT_EQ(submitted->charged_micros, 1'500'000) << "the fit's epsilon, nothing per record";
  EXPECT_EQ(Spent("hungarian"), 1'500'000);
  auto ledger = site::LocalLedger::Open(kit.ledger_path);
  EXPECT_EQ(*(*ledger)->Spent("heart"), 1'500'000) << "the site's ledger agrees";
  const auto record = **storage_->GetRelease(job->release_id);
  EXPECT_EQ(record.mode, privacy::ReleaseMode::kModelOnly);
  EXPECT_EQ(record.charge.release_micros, 0);
  EXPECT_EQ(record.charge.model_micros, 1'500'000);
  EXPECT_EQ(record.mechanism, "");
  EXPECT_LE(record.charge.model_delta, 1e-6);
  const auto revealed = **storage_->GetAudit(job->release_id);
  EXPECT_EQ(revealed.state, coordinator::AuditState::kRevealed);
  EXPECT_TRUE(revealed.positions.empty()) << "no row of a model's samples is a canary's";

  // A second synthesis is a new fit: its epsilon is charged again.
  auto second = site::SubmitMarginalSynthesis(request, "", kit, "heart", rng_, FastClient());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->charged_micros, 1'500'000);
  EXPECT_EQ(Spent("hungarian"), 3'000'000);

  auto judged = coordinator::RunAudits(*storage_, config_, {}, rng_, 5000);
  ASSERT_TRUE(judged.ok()) << judged.status();
  const auto verdict = **storage_->GetVerdict(job->release_id);
  EXPECT_EQ(verdict.claimed_micros, 1'500'000);
  EXPECT_TRUE(verdict.passed) << verdict.reason;
  EXPECT_THAT(verdict.report_json, HasSubstr("the canaries trained the model"));
  auto pooled = coordinator::ExportPooledCsv(*storage_, config_, "heart", false, rng_);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  EXPECT_EQ(pooled->canary_rows_removed, 0);
  EXPECT_EQ(pooled->exported, std::vector<std::string>{job->release_id})
      << "the unaudited second release waits for an approval";
  EXPECT_EQ(std::count(pooled->csv.begin(), pooled->csv.end(), '\n') - 1, 294);
}

// A DP-trained VAE's prior samples federate as model-only: the model's epsilon on its first use,
// nothing after; no mechanism is stated and the records are never read for noise.
TEST_F(Federation, ModelOnlyReleasesOfADpVaeChargeTheModelOnce) {
  const int64_t model_micros = TrainDpModel("va", dir_ + "/dp.model");
  ASSERT_GT(model_micros, 0);
  site::ReleaseRequest release;
  release.model_path = dir_ + "/dp.model";
  release.input_csv = Heart("va");
  release.mode = site::ReleaseMode::kModelOnly;
  auto first = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->committed);
  EXPECT_EQ(first->charged_micros, model_micros);
  auto second = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->charged_micros, 0) << "more samples of a paid-for model";
  EXPECT_EQ(Spent("va"), model_micros);
  const auto record = **storage_->GetRelease(first->release_id);
  EXPECT_EQ(record.mode, privacy::ReleaseMode::kModelOnly);
  EXPECT_EQ(record.rows_received, 200) << "as many rows as the site's file";

  // The paper's mode cannot federate as model-only: its samples would carry the records.
  release.model_path = g_dir + "/va.model";
  release.allow_nonprivate_model = true;
  auto clear = site::SubmitRelease(release, Kit("va"), "heart", rng_, FastClient());
  EXPECT_EQ(clear.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Spent("va"), model_micros);
}

// `audit-job` records the job before it sends the commitment; if the connection dies right
// then, the coordinator holds an issued (uncommitted) audit. The submit sends the commitment
// again, so the job is not lost.
TEST_F(Federation, ASubmitCommitsAnAuditJobWhoseCommitmentWasLost) {
  config_.datasets[0].audit_canaries = 20;
  const site::SiteKit kit = Kit("va");
  auto client = site::CoordinatorClient::Connect(kit, FastClient(), [] { return 0.5; });
  ASSERT_TRUE(client.ok()) << client.status();
  site::AuditJobRecord job{"r-lost-commit", "heart"};
  auto issued = (*client)->OpenAudit(job.release_id, "heart");
  ASSERT_TRUE(issued.ok()) << issued.status();
  job.canaries = issued->canaries;
  job.bits = audit::DrawInclusionBits(10, [this] { return rng_.NextU64(); });  // pairs
  job.salt = audit::NewSalt([this] { return rng_.NextU64(); });
  job.commitment = audit::CommitToBits(job.bits, job.salt);
  ASSERT_TRUE((*site::LocalLedger::Open(kit.ledger_path))->AddAuditJob(job).ok());
  EXPECT_EQ((*storage_->GetAudit(job.release_id))->state, coordinator::AuditState::kIssued);

  const site::TrainRequest train =
      TrainUnderAuditJob("va", dir_ + "/lost-commit.model", job, /*epochs=*/2, /*seed=*/4);
  base::NullProgress progress;
  ASSERT_TRUE(site::RunTrain(train, progress, rng_).ok());
  site::ReleaseRequest release = Release("va");
  release.model_path = train.model_out;
  release.audit_job = job.release_id;
  auto submitted = site::SubmitRelease(release, kit, "heart", rng_, FastClient());
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_TRUE(submitted->committed);
  const auto audit = **storage_->GetAudit(job.release_id);
  EXPECT_EQ(audit.state, coordinator::AuditState::kRevealed);
  EXPECT_EQ(audit.commitment, job.commitment);
}

}  // namespace
}  // namespace fedsyn::testing_federation
