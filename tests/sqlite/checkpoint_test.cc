// The writer's write-ahead log is copied back into the database file by a checkpointer thread
// with a connection of its own (common/sqlite), not inside the commits that grow the log.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "common/sqlite/sqlite.h"
#include "tests/support/test_paths.h"

namespace fedsyn::sqlite {
namespace {

constexpr std::array<const char*, 1> kSchema = {
    "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"};
constexpr size_t kBlobBytes = 1 << 20;
constexpr int kBlobs = 12;  // 12 MiB: many times the checkpointer's wake length (250 pages)

absl::Status InsertBlob(Database& db, char fill) {
  return db.Transaction([&] {
    Statement s(db, "INSERT INTO blobs (data) VALUES (?)");
    s.BindBlob(1, std::string(kBlobBytes, fill));
    return s.Run();
  });
}

TEST(Checkpointer, CopiesTheLogIntoTheFileOnItsOwnThread) {
  const std::string path = testing::ScratchDir("checkpointer_copies") + "/c.db";
  {
    auto db = Database::Open(path, false, kSchema);
    ASSERT_TRUE(db.ok()) << db.status();
    for (int i = 0; i < kBlobs; ++i) ASSERT_TRUE(InsertBlob(**db, static_cast<char>('a' + i)).ok());
    // The commits only woke the checkpointer; wait (bounded) for it to have copied the log.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::filesystem::file_size(path) < kBlobs * kBlobBytes * 3 / 4 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE((*db)->background_checkpoints(), 1u);
    // Most of the data is in the file itself while the writer is still open and idle (the
    // latest frames may still wait in the log for the next wake).
    EXPECT_GE(std::filesystem::file_size(path), kBlobs * kBlobBytes * 3 / 4);
  }
  // Everything committed reads back after a reopen, in order.
  auto reopened = Database::Open(path, false, kSchema);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  Statement s(**reopened, "SELECT id, substr(data, 1, 1), length(data) FROM blobs ORDER BY id");
  int rows = 0;
  while (s.Next()) {
    EXPECT_EQ(s.Int(0), rows + 1);
    EXPECT_EQ(s.Text(1), std::string(1, static_cast<char>('a' + rows)));
    EXPECT_EQ(s.Int(2), static_cast<int64_t>(kBlobBytes));
    ++rows;
  }
  EXPECT_TRUE(s.status().ok()) << s.status();
  EXPECT_EQ(rows, kBlobs);
}

TEST(Checkpointer, NoneForAReadOnlyConnection) {
  const std::string path = testing::ScratchDir("checkpointer_read_only") + "/c.db";
  { ASSERT_TRUE(Database::Open(path, false, kSchema).ok()); }
  auto reader = Database::Open(path, true, kSchema);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->background_checkpoints(), 0u);
}

}  // namespace
}  // namespace fedsyn::sqlite
