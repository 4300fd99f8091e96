// The self-contained HTML form of an audit report (audit_runner.h): one page, no external
// resources, the ROC curves as inline SVG (log-log). Rendered from the JSON report alone.
#ifndef FEDSYN_COORDINATOR_AUDIT_REPORT_H_
#define FEDSYN_COORDINATOR_AUDIT_REPORT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace fedsyn::coordinator {

std::string RenderAuditHtml(const nlohmann::json& report);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_AUDIT_REPORT_H_
