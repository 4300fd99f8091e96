// Group commit in common/sqlite (Database::Transaction): concurrent bodies share a COMMIT, yet
// each is atomic on its own, sees its predecessors' writes, and is on disk when it returns OK.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/sqlite/sqlite.h"
#include "tests/support/test_paths.h"

namespace fedsyn::sqlite {
namespace {

constexpr std::array<const char*, 1> kSchema = {
    "CREATE TABLE entries (writer INTEGER, k INTEGER, PRIMARY KEY (writer, k));"
    "CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO counter VALUES (1, 0);"};

// A new database with kSchema in a scratch folder of its own.
std::unique_ptr<Database> FreshDatabase(const std::string& name) {
  auto db = Database::Open(testing::ScratchDir(name) + "/ledger.db", false, kSchema);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

int64_t Count(Database& db, const std::string& sql) {
  Statement s(db.handle(), sql);
  EXPECT_TRUE(s.Next()) << s.status();
  return s.Int(0);
}

TEST(GroupCommit, ConcurrentBodiesShareCommitsButFailOnlyThemselves) {
  const std::string path = testing::ScratchDir("group_commit") + "/ledger.db";
  std::filesystem::remove(path);
  constexpr int kWriters = 16, kPerWriter = 40;
  std::atomic<int> wrong_outcomes = 0, succeeded = 0;
  uint64_t commits = 0;
  {
    auto db = Database::Open(path, false, kSchema);
    ASSERT_TRUE(db.ok()) << db.status();
    std::vector<std::jthread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int k = 0; k < kPerWriter; ++k) {
          const bool fails = k % 3 == 0;  // writes, then fails: its writes must vanish
          const absl::Status status = (*db)->Transaction([&]() -> absl::Status {
            // Read-modify-write: a body that did not see its predecessors' writes loses updates.
            Statement read((*db)->handle(), "SELECT value FROM counter WHERE id = 1");
            if (!read.Next()) return read.status();
            const int64_t value = read.Int(0);
            RETURN_IF_ERROR(Statement((*db)->handle(), "UPDATE counter SET value = ? WHERE id = 1")
                                .BindInt(1, value + 1)
                                .Run());
            RETURN_IF_ERROR(Statement((*db)->handle(), "INSERT INTO entries VALUES (?, ?)")
                                .BindInt(1, w)
                                .BindInt(2, k)
                                .Run());
            return fails ? absl::AbortedError("this body fails") : absl::OkStatus();
          });
          if (status.ok() == fails) ++wrong_outcomes;
          if (status.ok()) ++succeeded;
        }
      });
    }
    writers.clear();  // joins
    commits = (*db)->commits();
  }
  EXPECT_EQ(wrong_outcomes.load(), 0);
  EXPECT_EQ(succeeded.load(), kWriters * (kPerWriter - (kPerWriter + 2) / 3));
  // Bodies arriving during a commit waited for the next one together.
  EXPECT_LT(commits, static_cast<uint64_t>(succeeded.load()));
  EXPECT_GT(commits, 0u);

  // Reopened: exactly the successful bodies' writes, none of the failed ones'.
  auto reopened = Database::Open(path, true, kSchema);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(Count(**reopened, "SELECT value FROM counter WHERE id = 1"), succeeded.load());
  EXPECT_EQ(Count(**reopened, "SELECT COUNT(*) FROM entries"), succeeded.load());
  EXPECT_EQ(Count(**reopened, "SELECT COUNT(*) FROM entries WHERE k % 3 = 0"), 0);
}

TEST(GroupCommit, ALoneFailingBodyLeavesNothing) {
  const std::unique_ptr<Database> db = FreshDatabase("group_commit_alone");
  ASSERT_NE(db, nullptr);
  const absl::Status status = db->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO entries VALUES (1, 1)"));
    return absl::AbortedError("fails after writing");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM entries"), 0);
  EXPECT_EQ(db->commits(), 1u) << "only the schema's migration committed";
}

TEST(GroupCommit, ANestedTransactionIsRefusedNotDeadlocked) {
  const std::unique_ptr<Database> db = FreshDatabase("group_commit_nested");
  ASSERT_NE(db, nullptr);
  absl::Status inner;
  const absl::Status outer = db->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO entries VALUES (2, 2)"));
    inner = db->Transaction([] { return absl::OkStatus(); });
    return inner;
  });
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(outer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM entries"), 0) << "the outer body rolled back";
  EXPECT_TRUE(db->Transaction([] { return absl::OkStatus(); }).ok()) << "and the next runs";
}

TEST(GroupCommit, ABodyThatThrowsFailsAloneAndTheNextTransactionRuns) {
  const std::unique_ptr<Database> db = FreshDatabase("group_commit_throws");
  ASSERT_NE(db, nullptr);
  const absl::Status thrown = db->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db->Exec("INSERT INTO entries VALUES (3, 3)"));
    throw std::runtime_error("out of memory, say");
  });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(thrown.message()).find("out of memory, say"), std::string::npos);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM entries"), 0) << "its write rolled back";
  EXPECT_TRUE(db->Transaction([&] { return db->Exec("INSERT INTO entries VALUES (4, 4)"); }).ok());
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM entries"), 1);
}

}  // namespace
}  // namespace fedsyn::sqlite
