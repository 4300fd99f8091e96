#include "common/base/group_commit.h"

#include "common/base/guarded_call.h"

namespace fedsyn::base {
namespace {
// The group whose batch this thread is running, if any: a body that called Run again would
// otherwise wait for the batch it is part of, forever.
thread_local const GroupCommit* running_batch_of = nullptr;
}  // namespace

absl::Status GroupCommit::Run(const std::function<absl::Status()>& body) {
  if (running_batch_of == this) {
    return absl::FailedPreconditionError("a transaction body started another transaction");
  }
  PendingBody mine{&body, absl::OkStatus()};
  std::unique_lock lock(queue_mutex_);
  queue_.push_back(&mine);
  // Leader and followers: whoever finds no batch running takes everything queued (its own body
  // included) and runs it; the others wait for that batch, or lead the next one.
  while (!mine.done) {
    if (batch_running_) {
      batch_done_.wait(lock);
      continue;
    }
    batch_running_ = true;
    std::vector<PendingBody*> batch;
    batch.swap(queue_);
    lock.unlock();
    running_batch_of = this;
    RunBatch(batch);
    running_batch_of = nullptr;
    lock.lock();
    for (PendingBody* member : batch) member->done = true;
    batch_running_ = false;
    batch_done_.notify_all();
  }
  return mine.status;
}

void GroupCommit::RunBatch(std::span<PendingBody* const> batch) {
  const auto fail_all = [&batch](const absl::Status& status) {
    for (PendingBody* member : batch) member->status = status;
  };
  if (absl::Status begun = connection_.Begin(); !begun.ok()) {
    fail_all(begun);
    return;
  }
  bool any_ok = false;
  for (PendingBody* member : batch) {
    // A lone body needs no savepoint: its failure rolls back the whole transaction below.
    const bool savepoint = batch.size() > 1;
    absl::Status status = savepoint ? connection_.Exec("SAVEPOINT batch_member") : absl::OkStatus();
    if (status.ok()) status = CallGuarded(*member->body, "transaction body");
    if (savepoint && status.ok()) status = connection_.Exec("RELEASE batch_member");
    if (savepoint && !status.ok()) {
      // Undo this body's writes only; if even that fails, nothing of the batch may commit.
      if (absl::Status undone = connection_.Exec("ROLLBACK TO batch_member"); !undone.ok()) {
        connection_.Rollback();
        fail_all(undone);
        return;
      }
      (void)connection_.Exec("RELEASE batch_member");
    }
    member->status = status;
    any_ok = any_ok || status.ok();
  }
  if (!any_ok) {
    connection_.Rollback();
    return;
  }
  if (absl::Status committed = connection_.Commit(); !committed.ok()) {
    connection_.Rollback();
    for (PendingBody* member : batch) {
      if (member->status.ok()) member->status = committed;
    }
    return;
  }
  ++commits_;
}

}  // namespace fedsyn::base
