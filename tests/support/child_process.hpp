#pragma once
// Cordon's programs as child processes, for end-to-end tests: run a command to
// completion and collect its output, or start a long-running one (an archiver, the
// gateway, the simulator), signal it and wait for it.
//
// Ownership: a ChildProcess owns its process; the destructor kills (SIGKILL) and reaps
// it if it is still running, so a failing test leaves nothing behind. The child also
// gets SIGKILL if the test process dies first (PR_SET_PDEATHSIG).
// Threads: use from one thread.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::test {

struct ToolRun {
  int exit = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
};
std::ostream& operator<<(std::ostream& os, const ToolRun& run);

// Runs `binary args...` in `cwd` and collects stdout, stderr and the exit status.
ToolRun runTool(const std::filesystem::path& binary, const std::vector<std::string>& args,
                const std::filesystem::path& cwd = std::filesystem::current_path());

class ChildProcess {
 public:
  // Starts `binary args...`; stdout and stderr go to `logFile` (appended).
  static Result<std::unique_ptr<ChildProcess>> start(const std::filesystem::path& binary,
                                                     const std::vector<std::string>& args,
                                                     const std::filesystem::path& logFile);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  Status signal(int sig);
  // The exit status (or 128 + signal) once the process ended, nullopt at the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  pid_t pid() const { return pid_; }
  // Everything the process wrote so far.
  std::string log() const;

 private:
  ChildProcess(pid_t pid, std::filesystem::path logFile) : pid_(pid), logFile_(std::move(logFile)) {}
  pid_t pid_ = -1;
  std::optional<int> exit_;
  std::filesystem::path logFile_;
};

}  // namespace cordon::test
