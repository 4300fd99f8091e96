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

// The connection whose transaction this thread is running, if any (see Transaction).
thread_local const Connection* running_transaction_of = nullptr;

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

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& conninfo, bool read_only, std::span<const char* const> migrations) {
  // Keywords before the expanded dbname are defaults the connection string may override.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "fedsyn-coordinator", conninfo.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("cannot allocate a libpq connection");
  std::unique_ptr<Connection> connection(new Connection(conn, read_only));
  if (PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError("cannot connect to database " + connection->description() + ": " +
                                  Trimmed(PQerrorMessage(conn)));
  }
  PQsetNoticeProcessor(conn, &DiscardNotice, nullptr);
  RETURN_IF_ERROR(connection->Setup());
  if (!migrations.empty()) RETURN_IF_ERROR(connection->Migrate(migrations));
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

std::string Connection::description() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  const char* db = PQdb(conn_);
  return std::string("postgresql ") + (db ? db : "?") + " on " + (host ? host : "?") + ":" +
         (port ? port : "?");
}

absl::Status Connection::Setup() {
  return ExecSimple(std::string("SET synchronous_commit = on; SET lock_timeout = '10s'; ") +
                    "SET client_min_messages = warning; SET default_transaction_read_only = " +
                    (read_only_ ? "on" : "off"));
}

absl::Status Connection::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError("database " + description() +
                                  ": reconnect: " + Trimmed(PQerrorMessage(conn_)));
  }
  return Setup();
}

absl::Status Connection::ExecSimple(const std::string& sql) {
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

absl::StatusOr<Result> Connection::Query(const std::string& sql, const Params& params) {
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
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), types.data(), values.data(),
                   lengths.data(), formats.data(), /*resultFormat=*/1);
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    absl::Status failure = Failure(description(), "query", result,
                                   result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    PQclear(result);
    return failure;
  }
  return Result(result);
}

absl::Status Connection::Transaction(const std::function<absl::Status()>& body) {
  return read_only_ ? InTransaction("BEGIN READ ONLY", /*take_lock=*/false, body)
                    : InTransaction("BEGIN", /*take_lock=*/true, body);
}

absl::Status Connection::Snapshot(const std::function<absl::Status()>& body) {
  return InTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", /*take_lock=*/false,
                       body);
}

absl::Status Connection::InTransaction(const char* begin, bool take_lock,
                                       const std::function<absl::Status()>& body) {
  if (running_transaction_of == this) {
    return absl::FailedPreconditionError("a transaction body started another transaction");
  }
  std::lock_guard lock(mutex_);
  RETURN_IF_ERROR(EnsureConnected());
  absl::Status status = ExecSimple(begin);
  if (!status.ok()) return status;
  if (take_lock) {
    status = Run("SELECT pg_advisory_xact_lock($1)", Params().Int(kLedgerLockKey));
  }
  if (status.ok()) {
    running_transaction_of = this;
    status = base::CallGuarded(body, "transaction body");
    running_transaction_of = nullptr;
  }
  if (status.ok()) {
    // COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error: a body
    // that ignored a failure must not be reported as committed.
    pg_result* result = PQexec(conn_, "COMMIT");
    const bool committed = result && PQresultStatus(result) == PGRES_COMMAND_OK &&
                           std::string_view(PQcmdStatus(result)) == "COMMIT";
    if (!committed) {
      status = result && PQresultStatus(result) == PGRES_COMMAND_OK
                   ? absl::InternalError("database " + description() +
                                         ": the transaction was aborted by a failed statement")
                   : Failure(description(), "commit", result,
                             result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    }
    PQclear(result);
    if (status.ok()) return status;
  }
  if (PQstatus(conn_) == CONNECTION_OK) (void)ExecSimple("ROLLBACK");
  return status;
}

absl::Status Connection::Migrate(std::span<const char* const> migrations) {
  const int64_t known = static_cast<int64_t>(migrations.size());
  return Transaction([&]() -> absl::Status {
    if (!read_only_) {
      RETURN_IF_ERROR(
          ExecSimple("CREATE TABLE IF NOT EXISTS fedsyn_schema_version (version BIGINT NOT NULL);"
                     "INSERT INTO fedsyn_schema_version SELECT 0 WHERE NOT EXISTS "
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
      RETURN_IF_ERROR(ExecSimple(migrations[static_cast<size_t>(v)]));
    }
    return Run("UPDATE fedsyn_schema_version SET version = $1", Params().Int(known));
  });
}

}  // namespace fedsyn::postgres
