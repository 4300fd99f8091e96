// Prepared statements kept by common/sqlite's Database between uses (Statement(Database&, sql)):
// a reused statement must behave exactly like a freshly prepared one.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <memory>
#include <string>

#include "common/sqlite/sqlite.h"
#include "tests/support/test_paths.h"

namespace fedsyn::sqlite {
namespace {

constexpr std::array<const char*, 1> kSchema = {
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');"};

std::unique_ptr<Database> FreshDatabase(const std::string& name) {
  auto db = Database::Open(testing::ScratchDir(name) + "/cache.db", false, kSchema);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// How many statements the connection has prepared and not finalised.
int OpenStatements(Database& db) {
  int count = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt(db.handle(), nullptr); s != nullptr;
       s = sqlite3_next_stmt(db.handle(), s))
    ++count;
  return count;
}

constexpr const char* kByName = "SELECT id FROM items WHERE name = ?";

TEST(StatementCache, AReusedStatementStartsOverWithNoBindings) {
  auto db = FreshDatabase("statement_cache_reuse");
  ASSERT_NE(db, nullptr);
  {
    Statement first(*db, kByName);
    first.BindText(1, "two");
    ASSERT_TRUE(first.Next());
    EXPECT_EQ(first.Int(0), 2);
  }  // left mid-result: must be reset before anyone reuses it
  EXPECT_EQ(OpenStatements(*db), 1) << "kept for the next use, not finalised";
  {
    Statement again(*db, kByName);  // the same statement, bindings cleared: name = NULL
    EXPECT_FALSE(again.Next());
    EXPECT_TRUE(again.status().ok()) << again.status();
  }
  EXPECT_EQ(OpenStatements(*db), 1) << "reused, not prepared a second time";
  Statement third(*db, kByName);
  third.BindText(1, "three");
  ASSERT_TRUE(third.Next());
  EXPECT_EQ(third.Int(0), 3);
}

TEST(StatementCache, StatementsOfTheSameTextInUseAtOnceAreDistinct) {
  auto db = FreshDatabase("statement_cache_nested");
  ASSERT_NE(db, nullptr);
  Statement outer(*db, "SELECT id FROM items ORDER BY id");
  int rows = 0;
  while (outer.Next()) {
    Statement inner(*db, "SELECT id FROM items ORDER BY id");  // while outer is mid-result
    int inner_rows = 0;
    while (inner.Next()) ++inner_rows;
    EXPECT_EQ(inner_rows, 3);
    ++rows;
  }
  EXPECT_TRUE(outer.status().ok()) << outer.status();
  EXPECT_EQ(rows, 3) << "the inner statement must not have reset the outer one";
}

TEST(StatementCache, AKeptStatementSeesLaterWritesAndDoesNotBlockThem) {
  auto db = FreshDatabase("statement_cache_writes");
  ASSERT_NE(db, nullptr);
  auto count = [&] {
    Statement s(*db, "SELECT COUNT(*) FROM items");
    EXPECT_TRUE(s.Next()) << s.status();
    return s.Int(0);
  };
  EXPECT_EQ(count(), 3);
  ASSERT_TRUE(db->Transaction([&] {
                  return Statement(*db, "INSERT INTO items VALUES (4, 'four')").Run();
                }).ok());
  EXPECT_EQ(count(), 4);
  // A schema change with kept statements around: they are reset, so it is not refused, and
  // SQLite prepares them again for the new schema when next used.
  ASSERT_TRUE(db->Exec("DROP TABLE items; CREATE TABLE items (id INTEGER PRIMARY KEY)").ok());
  EXPECT_EQ(count(), 0);
}

TEST(StatementCache, ABadStatementReportsAndIsNotKept) {
  auto db = FreshDatabase("statement_cache_bad");
  ASSERT_NE(db, nullptr);
  {
    Statement bad(*db, "SELECT nothing FROM nowhere");
    EXPECT_FALSE(bad.Next());
    EXPECT_FALSE(bad.status().ok());
  }
  EXPECT_EQ(OpenStatements(*db), 0);
}

}  // namespace
}  // namespace fedsyn::sqlite
