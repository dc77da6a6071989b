#pragma once
// A thin wrapper over SQLite (STYLE.md: every third-party client behind an interface
// we own, its errors translated in one place). The audit log and the outbox share one
// database file, so that an upload and its audit record commit in one transaction.
//
// Contract: a Database is used from one thread at a time (SQLite's default
// serialized mode would allow more; the gateway does not need it). Every call returns
// a value or an error naming the SQL and SQLite's message; nothing throws.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cordon::storage {

struct OpenOptions {
  bool readOnly = false;
  bool create = true;  // create the file when missing (ignored when read-only)
  // Read-only only: the file cannot change while it is open (a copy pulled off a unit,
  // an archived file). SQLite then takes no locks and creates no -shm or -wal file
  // beside it, which a plain read-only open of a WAL database does. Wrong for a file a
  // writer may still change: that reader would miss its WAL and race its checkpoints.
  bool immutable = false;
  // WAL with synchronous=FULL: a committed transaction survives power loss, and
  // readers (cordon-audit) never block the writer.
  bool wal = true;
  int busyTimeoutMs = 5000;
  // Page size of a new file (an existing file keeps its own). Every commit appends each
  // page it touched to the WAL whole, so on flash the page size is the write
  // amplification of a small commit: 1 KiB pages write about a quarter of what SQLite's
  // 4 KiB default does for the audit log's few-rows-per-commit pattern
  // (docs/benchmarks.md, "Audit log").
  int pageSizeBytes = 1024;
};

class Statement;

class Database {
 public:
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& file, OpenOptions options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status exec(std::string_view sql);  // one or more statements without parameters
  Result<Statement> prepare(std::string_view sql);
  std::int64_t lastInsertRowId() const;
  int changes() const;
  // Inside BEGIN ... COMMIT (components that write only in their caller's transaction check it).
  bool inTransaction() const;
  // How many transactions Transaction::begin() has opened on this handle: lets a component
  // that caches state per transaction tell the open one from earlier ones.
  std::uint64_t transactionSerial() const { return transactionSerial_; }
  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  friend class Transaction;
  sqlite3* db_;
  std::filesystem::path file_;
  std::uint64_t transactionSerial_ = 0;
};

// A prepared statement: bind (1-based, as SQLite), step, read columns, reset.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bindBlob(int index, std::span<const std::uint8_t> bytes);
  Statement& bindNull(int index);

  // True while a row is available; false when done. Errors: constraint, I/O, busy...
  Result<bool> step();
  Status run();  // step to completion, expecting no rows
  void reset();  // keeps the bindings unless rebound

  std::int64_t int64(int column) const;
  std::string text(int column) const;
  std::vector<std::uint8_t> blob(int column) const;
  bool isNull(int column) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  std::string bindError_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_;
};

}  // namespace cordon::storage
