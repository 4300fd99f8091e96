# The admin API: the operator's CLI and the coordinator, over mutual TLS with the admin
# certificate. Version 2 (the site API's number); ordinals only grow. Read-only in this version.
@0x884bf119df912e7d;

using Site = import "site_api.capnp";

struct AdminRequest {
  protocolVersion @0 :UInt32;
  union {
    status @1 :Void;
    budgets @2 :Void;
    releases @3 :Void;
    audits @4 :Void;          # every canary audit
    audit @5 :Text;           # one release's audit in full, by release id
  }
}

struct AdminResponse {
  union {
    error @0 :AdminError;
    status @1 :List(SiteStatus);
    budgets @2 :List(Budget);
    releases @3 :List(ReleaseInfo);
    audits @4 :List(AuditInfo);   # for `audit`: one entry, with its verdict report
  }
}

struct AuditInfo {
  releaseId @0 :Text;
  siteId @1 :Text;
  dataset @2 :Text;
  state @3 :Site.CanaryAuditState;
  canaries @4 :Int64;
  included @5 :Int64;
  status @6 :AuditStatus;
  why @7 :Text;
  claimedMicros @8 :Int64 = -1;     # -1: not judged yet
  lowerBoundMicros @9 :Int64 = -1;
  approved @10 :Bool;
  approvedBy @11 :Text;
  approvalReason @12 :Text;
  approvedUnix @13 :Int64;
  verdictJson @14 :Text;            # `audit` only
  judgedUnix @15 :Int64;
}

struct AdminError {
  code @0 :UInt32;
  message @1 :Text;
}

struct SiteStatus {
  siteId @0 :Text;
  connected @1 :Bool;
  lastSeenUnix @2 :Int64;   # 0: never
  releases @3 :Int64;
  rows @4 :Int64;
  spentMicros @5 :Int64;
  limitMicros @6 :Int64;
  auditsPassed @7 :Int64;   # committed releases by audit status (docs/audits.md)
  auditsFailed @8 :Int64;
  auditsPending @9 :Int64;
  certificateSerial @10 :Text;        # the certificate the site last connected with (hex)
  certificateNotAfterUnix @11 :Int64; # its expiry; 0: the site never connected
}

struct Budget {
  siteId @0 :Text;
  dataset @1 :Text;
  limitMicros @2 :Int64;
  spentMicros @3 :Int64;
}

struct ReleaseInfo {
  releaseId @0 :Text;
  siteId @1 :Text;
  dataset @2 :Text;
  stateV1 @3 :Text;         # retired in version 2: progress
  chargeMicros @4 :Int64;
  rows @5 :Int64;
  sha256 @6 :Text;
  createdUnix @7 :Int64;
  modelPrivate @8 :Bool;    # false: the release's decoder was trained without DP
  modeV1 @9 :Text;          # retired in version 2: releaseMode
  auditV1 @10 :Text;        # retired in version 2: audit
  approved @11 :Bool;       # an operator approved it for export despite the gate
  progress @12 :Site.ReleaseProgress;
  releaseMode @13 :Site.ReleaseMode;
  audit @14 :AuditStatus;
}

enum AuditStatus {
  pending @0;               # no verdict yet
  passed @1;
  failed @2;
}
