// What the wire says of a stored release (the site's resume query, the admin API's release
// list): the storage's status as protocol::ReleaseProgress.
#ifndef FEDSYN_COORDINATOR_RELEASE_PROGRESS_H_
#define FEDSYN_COORDINATOR_RELEASE_PROGRESS_H_

#include "coordinator/storage.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator {

inline protocol::ReleaseProgress ReleaseProgressOf(ReleaseStatus status) {
  return status == ReleaseStatus::kCommitted ? protocol::ReleaseProgress::kCommitted
                                             : protocol::ReleaseProgress::kReserved;
}

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_RELEASE_PROGRESS_H_
