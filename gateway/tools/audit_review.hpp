#pragma once
// cordon-audit's review commands (docs/audit-review.md): read-only views of an audit
// log for a compliance reviewer. Each takes the command's arguments (after its name),
// prints to standard output and returns the exit status, or throws cli::Failure.
#include <memory>
#include <string>
#include <vector>

#include "gateway/storage/sqlite_database.hpp"

namespace cordon::tools {

// Opens an audit log strictly read-only; a missing, locked, corrupt or foreign file is a
// cli::Failure with exit status 2 that says which.
std::unique_ptr<storage::Database> openLogReadOnly(const std::string& file);

int runExplain(const std::vector<std::string>& args);
int runSummary(const std::vector<std::string>& args);
int runQuery(const std::vector<std::string>& args);
int runExport(const std::vector<std::string>& args);
int runReport(const std::vector<std::string>& args);

}  // namespace cordon::tools
