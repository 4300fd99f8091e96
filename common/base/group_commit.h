// Group commit for a database connection that runs one transaction at a time (common/sqlite,
// common/postgres): calls that arrive while a transaction is running are run together in the
// next one, each inside its own savepoint (a failing body rolls back to it and leaves the
// others' writes in place), and committed with one COMMIT — one disk sync and, on a server, one
// set of round trips and one lock acquisition for the lot instead of one each. Bodies run one
// after another in arrival order and see their predecessors' writes, exactly as if each had had
// a transaction of its own; only the commit is shared. A failed COMMIT fails every body of the
// batch.
#ifndef FEDSYN_COMMON_BASE_GROUP_COMMIT_H_
#define FEDSYN_COMMON_BASE_GROUP_COMMIT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "common/base/status.h"

namespace fedsyn::base {

class GroupCommit {
 public:
  // The connection's side of a batch.
  class Connection {
   public:
    virtual ~Connection() = default;
    // Starts the batch's transaction (with whatever serialises writers).
    virtual absl::Status Begin() = 0;
    // Runs one of SAVEPOINT / RELEASE / ROLLBACK TO (SQL both databases share).
    virtual absl::Status Exec(const char* sql) = 0;
    // Commits; an error when the transaction did not commit.
    virtual absl::Status Commit() = 0;
    virtual void Rollback() = 0;
  };

  explicit GroupCommit(Connection& connection) : connection_(connection) {}

  // Runs `body` in the next batch and returns its status: OK means its writes are committed.
  // A body that calls Run again gets FailedPrecondition (no nested transactions); an exception
  // it throws fails it alone.
  absl::Status Run(const std::function<absl::Status()>& body);
  // COMMITs so far (a batch counts once): with the number of Run calls, what grouping saved.
  uint64_t commits() const { return commits_.load(); }

 private:
  struct PendingBody {
    const std::function<absl::Status()>* body;
    absl::Status status;
    bool done = false;
  };
  // Runs `batch` in one transaction and sets each member's status.
  void RunBatch(std::span<PendingBody* const> batch);

  Connection& connection_;
  std::atomic<uint64_t> commits_ = 0;
  // Guards the queue of waiting bodies and whether a batch is running.
  std::mutex queue_mutex_;
  std::condition_variable batch_done_;
  std::vector<PendingBody*> queue_;
  bool batch_running_ = false;
};

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_GROUP_COMMIT_H_
