# The site API: what a site agent and the coordinator say to each other over mutual TLS.
# Version 2. Field ordinals only ever grow; a field is never renumbered or retyped. Version 2
# replaced the Text fields that carried closed sets and lists (named `...V1` below, never set
# or read now) by enums and lists under new ordinals.
# A site's identity is its TLS certificate, never a field here.
@0x85bacb8a0fcf552e;

struct SiteRequest {
  union {
    hello @0 :Hello;
    reserve @1 :Reserve;
    uploadChunk @2 :UploadChunk;
    commit @3 :Commit;
    heartbeat @4 :Void;
    releaseState @5 :Text;   # release id: how far the coordinator got (resume after a disconnect)
    uploadModel @6 :UploadModel;
    auditJob @7 :Text;        # retired before any release (audits now open before the
                              # reservation, see openAudit); answered with an error
    commitCanaries @8 :CanaryCommitment;
    revealCanaries @9 :CanaryReveal;
    openAudit @10 :OpenAudit;
  }
}

# Canary audits (docs/audits.md). The site opens an audit before training, under the id its
# audited release will have, commits to its inclusion bits before reserving, and reveals them
# after the release is committed; commitment = SHA-256 hex of salt ":" bits.
struct OpenAudit {
  releaseId @0 :Text;       # chosen by the agent; asking again returns the same canaries
  dataset @1 :Text;
}

struct CanaryCommitment {
  releaseId @0 :Text;
  commitment @1 :Text;
}

struct CanaryReveal {
  releaseId @0 :Text;
  bitsV1 @1 :Text;          # retired in version 2: inclusion
  salt @2 :Text;
  positionsV1 @3 :Text;     # retired in version 2: rowPositions
  inclusion @4 :List(Bool); # one bit per canary pair: false includes the pair's first canary
  rowPositions @5 :List(UInt64);  # 0-based rows of the release derived from included canaries,
                            # ascending (kept out of exports); empty for a model-only release
                            # (its canaries trained the model only)
}

# Codes mode: the published decoder of a reserved release, sent before its chunks. Its
# SHA-256 must equal the reservation's modelSha256; replays of the same bytes are acknowledged.
struct UploadModel {
  releaseId @0 :Text;
  model @1 :Data;           # a fedsyn model file without its training outcome
}

struct Hello {
  protocolVersion @0 :UInt32;
  agentVersion @1 :Text;
}

struct Reserve {
  releaseId @0 :Text;       # chosen by the agent; replays are idempotent
  dataset @1 :Text;
  releaseMicros @2 :Int64;  # the release's own epsilon, micro-epsilon (0 exactly for model-only)
  rows @3 :Int64;
  modeV1 @4 :Text;          # retired in version 2: releaseMode
  modelPrivate @5 :Bool;
  modelSha256 @6 :Text;           # identifies the model; its epsilon is charged once per model
  modelMicros @7 :Int64;          # the DP-trained model's epsilon (0 if not private)
  modelDelta @8 :Float64;         # ... and its delta (0 if not private)
  # The neighbouring relation every part of the claim is stated under; the coordinator accepts
  # replaceOne only (a release publishes its row count). Older agents send `unstated`.
  relation @9 :NeighbouringRelation;
  # The metric mechanism behind releaseMicros: the coordinator checks that the charge covers it
  # and, for codes-mode releases, tests that the revealed canaries are present in the codes.
  # Not set for a model-only release (version 1 sent all zeros).
  mechanism @10 :Mechanism;
  releaseMode @11 :ReleaseMode;
}

enum ReleaseMode {
  synthetic @0;             # records decoded from noised codes
  codes @1;                 # the noised codes; the recipient decodes with the published model
  modelOnly @2;             # samples of a private model: no mechanism, the model's epsilon is
                            # the whole claim
}

enum NeighbouringRelation {
  unstated @0;
  replaceOne @1;
  addRemove @2;             # never accepted for a release: it publishes its row count
}

enum NoiseMetric {
  l2 @0;
  l1 @1;
}

struct Mechanism {
  metric @0 :NoiseMetric;
  epsilonPerUnit @1 :Float64;   # eps_d
  clipRadius @2 :Float64;       # R
  gridExponent @3 :Int32;       # grid spacing 2^gridExponent
  latentDim @4 :UInt32;         # k
}

struct UploadChunk {
  releaseId @0 :Text;
  index @1 :UInt32;         # 0, 1, 2, ... in order
  rows @2 :Data;            # CSV rows (no header): records in the federation schema's column
                            # order (synthetic mode), or latentDim numbers per row (codes mode)
}

struct Commit {
  releaseId @0 :Text;
  rowCount @1 :Int64;
  sha256 @2 :Text;          # hex SHA-256 of the concatenated chunks
}

struct SiteResponse {
  union {
    error @0 :Error;
    welcome @1 :Welcome;
    reserved @2 :Reserved;
    chunkAck @3 :ChunkAck;
    committed @4 :Void;
    heartbeat @5 :Void;
    releaseState @6 :ReleaseState;
    modelStored @7 :Text;    # release id
    auditJob @8 :AuditJob;
    auditState @9 :AuditState;
  }
}

struct AuditJob {
  releaseId @0 :Text;
  canaries @1 :Data;        # CSV rows (no header) in the federation schema
  count @2 :UInt32;         # 0: this dataset's releases are not audited
}

struct AuditState {
  releaseId @0 :Text;
  stateV1 @1 :Text;         # retired in version 2: state
  state @2 :CanaryAuditState;
}

enum CanaryAuditState {
  issued @0;
  committed @1;
  revealed @2;
  invalid @3;
}

struct Error {
  code @0 :UInt32;          # absl::StatusCode value
  message @1 :Text;
  remainingMicros @2 :Int64 = -1;   # set when a reservation is refused for budget
}

struct Welcome {
  protocolVersion @0 :UInt32;
  siteId @1 :Text;          # as read from the certificate
  datasets @2 :List(DatasetGrant);
}

struct DatasetGrant {
  name @0 :Text;
  schemaToml @1 :Text;      # the federation schema every release must match
  limitMicros @2 :Int64;
  spentMicros @3 :Int64;
}

struct Reserved {
  releaseId @0 :Text;
  remainingMicros @1 :Int64;
  replayed @2 :Bool;        # the reservation already existed; nothing charged again
  chargedMicros @3 :Int64;  # what this reservation charged: release + model (first use only)
}

struct ChunkAck {
  releaseId @0 :Text;
  nextIndex @1 :UInt32;
}

struct ReleaseState {
  releaseId @0 :Text;
  stateV1 @1 :Text;         # retired in version 2: progress
  nextIndex @2 :UInt32;
  progress @3 :ReleaseProgress;
}

enum ReleaseProgress {
  unknown @0;               # never reserved (or refused)
  reserved @1;
  committed @2;
}
