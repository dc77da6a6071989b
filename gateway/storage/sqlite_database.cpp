#include "gateway/storage/sqlite_database.hpp"

#include <sqlite3.h>

#include <cstdio>

namespace cordon::storage {
namespace {

Error sqliteError(sqlite3* db, std::string_view what) {
  return Error{std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory")};
}

// "file:<path>?mode=ro&immutable=1", the path escaped as a URI needs it (RFC 3986 via
// SQLite's URI rules: '%', '?' and '#' would end or change the path).
std::string immutableUri(const std::filesystem::path& file) {
  std::string uri = "file:";
  for (const char c : std::filesystem::absolute(file).string()) {
    if (c == '%' || c == '?' || c == '#') {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(c));
      uri += escaped;
    } else {
      uri += c;
    }
  }
  return uri + "?mode=ro&immutable=1";
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& file, OpenOptions options) {
  sqlite3* db = nullptr;
  int flags = options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (!options.readOnly && options.create) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  const bool immutable = options.readOnly && options.immutable;
  if (immutable) flags |= SQLITE_OPEN_URI;
  const std::string name = immutable ? immutableUri(file) : file.string();
  if (sqlite3_open_v2(name.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Error error = sqliteError(db, file.string() + ": cannot open");
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<Database> database(new Database(db, file));
  sqlite3_busy_timeout(db, options.busyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  // Refuse a file that is not a database before anything else touches it.
  if (Status probe = database->exec("SELECT count(*) FROM sqlite_schema"); !probe) {
    return Error{file.string() + ": not a usable SQLite database (" + probe.message() + ")"};
  }
  if (!options.readOnly) {
    // Takes effect only while the file is still empty (before the WAL switch writes it).
    if (Status s = database->exec("PRAGMA page_size=" + std::to_string(options.pageSizeBytes)); !s) {
      return Error{file.string() + ": " + s.message()};
    }
  }
  if (!options.readOnly && options.wal) {
    if (Status s = database->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"); !s) {
      return Error{file.string() + ": " + s.message()};
    }
  }
  return database;
}

Database::~Database() { sqlite3_close_v2(db_); }

Status Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Error{error + " [" + text.substr(0, 80) + "]"};
  }
  return Status::success();
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return sqliteError(db_, "prepare [" + std::string(sql.substr(0, 80)) + "]");
  }
  return Statement(stmt, std::string(sql));
}

std::int64_t Database::lastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }
bool Database::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Statement::Statement(Statement&& other) noexcept
    : stmt_(other.stmt_), sql_(std::move(other.sql_)), bindError_(std::move(other.bindError_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    sql_ = std::move(other.sql_);
    bindError_ = std::move(other.bindError_);
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) bindError_ = "bind " + std::to_string(index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    bindError_ = "bind " + std::to_string(index);
  }
  return *this;
}

Statement& Statement::bindBlob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must still be a blob, not NULL.
  static const std::uint8_t kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();
  if (sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    bindError_ = "bind " + std::to_string(index);
  }
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  if (!bindError_.empty()) return Error{bindError_ + " [" + sql_.substr(0, 80) + "]"};
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(sqlite3_db_handle(stmt_), "[" + sql_.substr(0, 80) + "]");
}

Status Statement::run() {
  auto row = step();
  if (!row) return row.error();
  while (row.value()) {
    row = step();
    if (!row) return row.error();
  }
  reset();
  return Status::success();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  bindError_.clear();
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::vector<std::uint8_t> Statement::blob(int column) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
  const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  return p == nullptr ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + n);
}

bool Statement::isNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<Transaction> Transaction::begin(Database& db) {
  if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return Error{"begin transaction: " + s.message()};
  ++db.transactionSerial_;
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (db_ == nullptr) return Error{"commit: transaction already finished"};
  Status s = db_->exec("COMMIT");
  if (s) db_ = nullptr;
  return s;
}

}  // namespace cordon::storage
