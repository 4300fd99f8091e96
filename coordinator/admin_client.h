// The operator CLI's side of the admin API: one query over mutual TLS with the admin
// certificate.
#ifndef FEDSYN_COORDINATOR_ADMIN_CLIENT_H_
#define FEDSYN_COORDINATOR_ADMIN_CLIENT_H_

#include <string>

#include "common/net/tls.h"
#include "protocol/messages.h"

namespace fedsyn::coordinator {

absl::StatusOr<protocol::AdminResponse> QueryAdmin(
    const std::string& address, const net::TlsFiles& files, const protocol::AdminRequest& request,
    net::Deadline deadline = std::chrono::seconds(10));

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_ADMIN_CLIENT_H_
