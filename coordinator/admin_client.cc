#include "coordinator/admin_client.h"

#include "protocol/codec.h"

namespace fedsyn::coordinator {

absl::StatusOr<protocol::AdminResponse> QueryAdmin(const std::string& address,
                                                   const net::TlsFiles& files,
                                                   const protocol::AdminRequest& request,
                                                   net::Deadline deadline) {
  ASSIGN_OR_RETURN(const auto host_port, net::ParseHostPort(address));
  ASSIGN_OR_RETURN(auto context, net::MakeTlsContext(files, net::Role::kClient));
  ASSIGN_OR_RETURN(auto connection,
                   net::DialTls(host_port.first, host_port.second, context, deadline));
  RETURN_IF_ERROR(connection->WriteFrame(protocol::EncodeAdminRequest(request), deadline));
  ASSIGN_OR_RETURN(const std::string frame,
                   connection->ReadFrame(protocol::kMaxMessageBytes, deadline));
  ASSIGN_OR_RETURN(protocol::AdminResponse response, protocol::DecodeAdminResponse(frame));
  if (const auto* error = std::get_if<protocol::Error>(&response)) {
    return protocol::StatusFromError(*error);
  }
  return response;
}

}  // namespace fedsyn::coordinator
