// The admin API's request handling (read-only dashboard queries), without sockets.
#ifndef FEDSYN_COORDINATOR_ADMIN_H_
#define FEDSYN_COORDINATOR_ADMIN_H_

#include <set>
#include <string>

#include "coordinator/storage.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator {

// `connected`: site ids with an open session right now (empty for a stopped coordinator).
protocol::AdminResponse HandleAdminRequest(const protocol::AdminRequest& request, Storage& storage,
                                           const std::multiset<std::string>& connected);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_ADMIN_H_
