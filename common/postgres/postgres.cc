#include "common/postgres/postgres.h"

#include <libpq-fe.h>

#include <string_view>

#include "common/base/guarded_call.h"

namespace fedsyn::postgres {
namespace {

// Type oids from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kTextOid = 25;

std::string Trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "failed" : out;
}

// A failed statement as a Status. Conditions that pass (the connection, a serialisation
// conflict or deadlock, the lock timeout, a full disk, memory, a server shutting down) are
// Unavailable: the caller may retry and a site is told so. Writing in a read-only session is
// FailedPrecondition. Anything else is Internal.
absl::Status Failure(const std::string& where, std::string_view what, const pg_result* result,
                     const char* detail) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  const std::string message = "database " + where + ": " + std::string(what) + ": " +
                              Trimmed(detail) + (sqlstate.empty() ? "" : " [" + sqlstate + "]");
  const std::string_view cls = std::string_view(sqlstate).substr(0, 2);
  if (sqlstate.empty() || cls == "08" || cls == "40" || cls == "53" || cls == "57" || cls == "58" ||
      sqlstate == "55P03") {
    return absl::UnavailableError(message);
  }
  if (sqlstate == "25006") return absl::FailedPreconditionError(message);
  return absl::InternalError(message);
}

uint64_t ReadBigEndian(const char* p, int length) {
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

void DiscardNotice(void*, const char*) {}

}  // namespace

Params& Params::Text(const std::string& value) {
  values_.push_back({kTextOid, value});
  return *this;
}
Params& Params::Bytes(const std::string& value) {
  values_.push_back({kByteaOid, value});
  return *this;
}
Params& Params::Int(int64_t value) {
  std::string bytes(8, '\0');
  const auto bits = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<size_t>(i)] = static_cast<char>(bits >> (56 - 8 * i));
  values_.push_back({kInt8Oid, std::move(bytes)});
  return *this;
}

Result::~Result() { PQclear(result_); }

int Result::rows() const { return PQntuples(result_); }

int64_t Result::Int(int row, int column) const {
  if (PQgetisnull(result_, row, column)) return 0;
  const int length = PQgetlength(result_, row, column);
  const uint64_t raw = ReadBigEndian(PQgetvalue(result_, row, column), length);
  // Sign-extend the two- and four-byte integer types.
  switch (length) {
    case 2:
      return static_cast<int16_t>(raw);
    case 4:
      return static_cast<int32_t>(raw);
    default:
      return static_cast<int64_t>(raw);
  }
}

std::string Result::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

// One libpq session: its PGconn, set up as postgres.h describes, re-established when lost.
class Connection::Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(const std::string& conninfo,
                                                       bool read_only) {
    // Keywords before the expanded dbname are defaults the connection string may override.
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "fedsyn-coordinator", conninfo.c_str(), nullptr};
    pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn == nullptr) return absl::ResourceExhaustedError("cannot allocate a libpq connection");
    std::unique_ptr<Session> session(new Session(conn, read_only));
    if (PQstatus(conn) != CONNECTION_OK) {
      return absl::UnavailableError("cannot connect to database " + session->description() + ": " +
                                    Trimmed(PQerrorMessage(conn)));
    }
    PQsetNoticeProcessor(conn, &DiscardNotice, nullptr);
    RETURN_IF_ERROR(session->Setup());
    return session;
  }
  ~Session() { PQfinish(conn_); }

  std::string description() const {
    const char* host = PQhost(conn_);
    const char* port = PQport(conn_);
    const char* db = PQdb(conn_);
    return std::string("postgresql ") + (db ? db : "?") + " on " + (host ? host : "?") + ":" +
           (port ? port : "?");
  }

  absl::Status EnsureConnected() {
    if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return absl::UnavailableError("database " + description() +
                                    ": reconnect: " + Trimmed(PQerrorMessage(conn_)));
    }
    return Setup();
  }
  bool connected() const { return PQstatus(conn_) == CONNECTION_OK; }

  // Begins a transaction with `sql`. A session the server dropped while it was idle (a restart,
  // a failover, an administrator) shows so only when used; nothing of the transaction has run
  // then, so reconnecting and beginning again is safe.
  absl::Status Begin(const char* sql) {
    RETURN_IF_ERROR(EnsureConnected());
    absl::Status begun = Exec(sql);
    if (!begun.ok() && !connected()) {
      RETURN_IF_ERROR(EnsureConnected());
      begun = Exec(sql);
    }
    return begun;
  }

  // A statement without parameters (several allowed: migrations, session settings).
  absl::Status Exec(const std::string& sql) {
    pg_result* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    absl::Status outcome = absl::OkStatus();
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      outcome = Failure(description(), "exec", result,
                        result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    }
    PQclear(result);
    return outcome;
  }

  absl::StatusOr<Result> Query(const std::string& sql, const Params& params) {
    std::vector<unsigned int> types;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const Params::Value& v : params.values_) {
      types.push_back(v.type);
      values.push_back(v.bytes.data());
      lengths.push_back(static_cast<int>(v.bytes.size()));
      formats.push_back(1);
    }
    pg_result* result =
        PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), types.data(),
                     values.data(), lengths.data(), formats.data(), /*resultFormat=*/1);
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      absl::Status failure = Failure(description(), "query", result,
                                     result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
      PQclear(result);
      return failure;
    }
    return Result(result);
  }

  // COMMIT. A transaction a failed statement aborted answers ROLLBACK, not an error: a body that
  // ignored a failure must not be reported as committed.
  absl::Status Commit() {
    pg_result* result = PQexec(conn_, "COMMIT");
    absl::Status status = absl::OkStatus();
    if (!result || PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = Failure(description(), "commit", result,
                       result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    } else if (std::string_view(PQcmdStatus(result)) != "COMMIT") {
      status = absl::InternalError("database " + description() +
                                   ": the transaction was aborted by a failed statement");
    }
    PQclear(result);
    return status;
  }
  void Rollback() {
    if (connected()) (void)Exec("ROLLBACK");
  }

 private:
  Session(pg_conn* conn, bool read_only) : conn_(conn), read_only_(read_only) {}
  absl::Status Setup() {
    return Exec(std::string("SET synchronous_commit = on; SET lock_timeout = '10s'; ") +
                "SET client_min_messages = warning; SET default_transaction_read_only = " +
                (read_only_ ? "on" : "off"));
  }

  pg_conn* conn_;
  bool read_only_;
};

thread_local Connection::Session* Connection::active_session_ = nullptr;

// A ledger transaction's side of a group commit, on the writing session.
class Connection::Batches final : public base::GroupCommit::Connection {
 public:
  Batches(Session& session, bool read_only) : session_(session), read_only_(read_only) {}
  absl::Status Begin() override {
    RETURN_IF_ERROR(session_.Begin(read_only_ ? "BEGIN READ ONLY" : "BEGIN"));
    if (!read_only_) {
      const absl::Status locked =
          session_.Query("SELECT pg_advisory_xact_lock($1)", Params().Int(kLedgerLockKey)).status();
      if (!locked.ok()) {
        session_.Rollback();  // the session must not stay in the aborted transaction
        return locked;
      }
    }
    active_session_ = &session_;
    return absl::OkStatus();
  }
  absl::Status Exec(const char* sql) override { return session_.Exec(sql); }
  absl::Status Commit() override {
    active_session_ = nullptr;
    return session_.Commit();
  }
  void Rollback() override {
    active_session_ = nullptr;
    session_.Rollback();
  }

 private:
  Session& session_;
  bool read_only_;
};

Connection::Connection(bool read_only) : read_only_(read_only) {}

Connection::~Connection() = default;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& conninfo, bool read_only, std::span<const char* const> migrations) {
  std::unique_ptr<Connection> connection(new Connection(read_only));
  ASSIGN_OR_RETURN(connection->writer_, Session::Open(conninfo, read_only));
  if (migrations.empty()) return connection;  // a check: one session is enough
  ASSIGN_OR_RETURN(connection->reader_, Session::Open(conninfo, /*read_only=*/true));
  connection->batches_ = std::make_unique<Batches>(*connection->writer_, read_only);
  connection->group_ = std::make_unique<base::GroupCommit>(*connection->batches_);
  RETURN_IF_ERROR(connection->Migrate(migrations));
  return connection;
}

std::string Connection::description() const { return writer_->description(); }

uint64_t Connection::commits() const { return group_ ? group_->commits() : 0; }

absl::StatusOr<Result> Connection::Query(const std::string& sql, const Params& params) {
  if (active_session_ == nullptr) {
    return absl::FailedPreconditionError("a query outside a transaction or snapshot");
  }
  return active_session_->Query(sql, params);
}

absl::Status Connection::Transaction(const std::function<absl::Status()>& body) {
  if (!group_) return absl::FailedPreconditionError("opened for a check only");
  return group_->Run(body);
}

absl::Status Connection::Snapshot(const std::function<absl::Status()>& body) {
  if (!reader_) return absl::FailedPreconditionError("opened for a check only");
  if (active_session_ != nullptr) {
    return absl::FailedPreconditionError("a snapshot inside a transaction or snapshot");
  }
  std::lock_guard lock(reader_mutex_);
  RETURN_IF_ERROR(reader_->Begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  active_session_ = reader_.get();
  absl::Status status = base::CallGuarded(body, "snapshot body");
  active_session_ = nullptr;
  if (status.ok()) status = reader_->Commit();
  if (!status.ok()) reader_->Rollback();
  return status;
}

absl::Status Connection::Migrate(std::span<const char* const> migrations) {
  const int64_t known = static_cast<int64_t>(migrations.size());
  return Transaction([&]() -> absl::Status {
    if (!read_only_) {
      RETURN_IF_ERROR(
          writer_->Exec("CREATE TABLE IF NOT EXISTS fedsyn_schema_version (version BIGINT NOT "
                        "NULL); INSERT INTO fedsyn_schema_version SELECT 0 WHERE NOT EXISTS "
                        "(SELECT 1 FROM fedsyn_schema_version)"));
    }
    ASSIGN_OR_RETURN(Result exists,
                     Query("SELECT count(*) FROM pg_tables WHERE schemaname = "
                           "current_schema() AND tablename = 'fedsyn_schema_version'"));
    int64_t applied = 0;
    if (exists.rows() == 1 && exists.Int(0, 0) == 1) {
      ASSIGN_OR_RETURN(Result version, Query("SELECT version FROM fedsyn_schema_version"));
      if (version.rows() != 1) {
        return absl::DataLossError("database " + description() +
                                   ": fedsyn_schema_version must hold exactly one row");
      }
      applied = version.Int(0, 0);
    }
    if (applied > known) {
      return absl::FailedPreconditionError("database schema version " + std::to_string(applied) +
                                           " is newer than this program's (" +
                                           std::to_string(known) + ")");
    }
    if (applied == known) return absl::OkStatus();
    if (read_only_) {
      return absl::FailedPreconditionError("database " + description() +
                                           " needs a migration; open it read-write once");
    }
    for (int64_t v = applied; v < known; ++v) {
      RETURN_IF_ERROR(writer_->Exec(migrations[static_cast<size_t>(v)]));
    }
    return Run("UPDATE fedsyn_schema_version SET version = $1", Params().Int(known));
  });
}

}  // namespace fedsyn::postgres
