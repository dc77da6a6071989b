#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace cordon::test {
namespace {

std::vector<char*> argvOf(std::vector<std::string>& strings) {
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

int exitCodeOf(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

std::ostream& operator<<(std::ostream& os, const ToolRun& run) {
  return os << "exit " << run.exit << "\n--- stdout\n" << run.out << "--- stderr\n" << run.err << "---";
}

// Both pipes are drained together so that neither can fill up and stall the child.
ToolRun runTool(const std::filesystem::path& binary, const std::vector<std::string>& args,
                const std::filesystem::path& cwd) {
  ToolRun run;
  std::array<int, 2> outPipe{}, errPipe{};
  if (::pipe2(outPipe.data(), O_CLOEXEC) != 0 || ::pipe2(errPipe.data(), O_CLOEXEC) != 0) {
    run.err = std::string("pipe2: ") + std::strerror(errno);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, outPipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<std::string> strings{binary.string()};
  strings.insert(strings.end(), args.begin(), args.end());
  auto argv = argvOf(strings);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(outPipe[1]);
  ::close(errPipe[1]);
  if (spawned != 0) {
    ::close(outPipe[0]);
    ::close(errPipe[0]);
    run.err = "posix_spawn " + binary.string() + ": " + std::strerror(spawned);
    return run;
  }
  std::array<pollfd, 2> fds{pollfd{outPipe[0], POLLIN, 0}, pollfd{errPipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&run.out, &run.err};
  int open = 2;
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit = exitCodeOf(status);
  return run;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::start(const std::filesystem::path& binary,
                                                          const std::vector<std::string>& args,
                                                          const std::filesystem::path& logFile) {
  const int logFd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) return Error{logFile.string() + ": " + std::strerror(errno)};
  std::vector<std::string> strings{binary.string()};
  strings.insert(strings.end(), args.begin(), args.end());
  auto argv = argvOf(strings);
  // fork rather than posix_spawn: the child must ask for SIGKILL when the test dies.
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(logFd);
    return Error{std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(logFd, STDOUT_FILENO);
    ::dup2(logFd, STDERR_FILENO);
    ::execve(binary.c_str(), argv.data(), environ);
    ::_exit(127);
  }
  ::close(logFd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, logFile));
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    (void)wait(std::chrono::seconds(10));
  }
}

Status ChildProcess::signal(int sig) {
  if (exit_) return Error{"the process has already exited"};
  return ::kill(pid_, sig) == 0 ? Status::success() : Error{std::string("kill: ") + std::strerror(errno)};
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_ = exitCodeOf(status);
      break;
    }
    if (r < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_;
}

bool ChildProcess::running() { return !exit_ && !wait(std::chrono::milliseconds(0)); }

std::string ChildProcess::log() const {
  std::ifstream in(logFile_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace cordon::test
