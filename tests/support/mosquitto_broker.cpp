#include "tests/support/mosquitto_broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace cordon::test {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

#ifndef CORDON_MOSQUITTO
#define CORDON_MOSQUITTO ""
#endif

std::string errnoText(const char* what) {
  return std::string(what) + ": " + std::error_code(errno, std::generic_category()).message();
}

bool isExecutable(const fs::path& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0;
}

std::string findMosquitto() {
  if (isExecutable(CORDON_MOSQUITTO)) return CORDON_MOSQUITTO;
  // Read once per start, from the test's main thread: nothing sets the environment meanwhile.
  if (const char* path = std::getenv("PATH")) {  // NOLINT(concurrency-mt-unsafe)
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && isExecutable(fs::path(dir) / "mosquitto")) return (fs::path(dir) / "mosquitto").string();
    }
  }
  for (const char* candidate : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"}) {
    if (isExecutable(candidate)) return candidate;
  }
  return {};
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// The kernel picks a free port for port 0; we release it for Mosquitto to take. Someone
// else may take it in between: launch() notices and start() picks again.
Result<std::uint16_t> pickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{errnoText("socket")};
  auto addr = loopback(0);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    auto e = Error{errnoText("bind 127.0.0.1:0")};
    ::close(fd);
    return e;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool acceptsConnections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The config file's lines with the port of its one `listener PORT [ADDRESS]` line
// replaced by `port`.
Result<std::string> withListenerPort(const fs::path& file, std::uint16_t port) {
  std::ifstream in(file);
  if (!in) return Error{"cannot read the broker config " + file.string()};
  std::string text;
  int listeners = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, oldPort, rest;
    words >> key >> oldPort;
    if (key == "listener") {
      ++listeners;
      std::getline(words, rest);
      line = "listener " + std::to_string(port) + rest;
    }
    text += line + "\n";
  }
  if (listeners != 1) {
    return Error{file.string() + ": expected one listener line, found " + std::to_string(listeners)};
  }
  return text;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its wrapper.
int openPidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

}  // namespace

MosquittoBroker::MosquittoBroker(fs::path dir, MosquittoOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), binary_(findMosquitto()) {}

Result<std::unique_ptr<MosquittoBroker>> MosquittoBroker::start(MosquittoOptions options) {
  std::string pattern = (fs::temp_directory_path() / "cordon-mosquitto-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return Error{errnoText("mkdtemp")};
  std::unique_ptr<MosquittoBroker> broker(new MosquittoBroker(pattern, std::move(options)));
  if (broker->binary_.empty()) {
    return Error{"mosquitto not found (CORDON_MOSQUITTO, PATH, /usr/sbin); install the mosquitto package"};
  }

  const auto deadline = Clock::now() + broker->options_.startTimeout;
  const bool fixedPort = broker->options_.port != 0;
  constexpr int kFreePortAttempts = 5;
  Status last = Error{"not started"};
  for (int attempt = 0; attempt < kFreePortAttempts || fixedPort; ++attempt) {
    std::uint16_t port = broker->options_.port;
    if (!fixedPort) {
      auto picked = pickFreePort();
      if (!picked) return picked.error();
      port = picked.value();
    }
    bool portTaken = false;
    last = broker->launch(port, deadline, portTaken);
    if (last) return broker;
    // Only a lost race for the port is worth another try; anything else is a real failure.
    if (!portTaken || Clock::now() >= deadline) break;
    if (fixedPort) {
      // The previous owner of a fixed port may still be closing it: give it a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Error{last.message()};
}

Status MosquittoBroker::launch(std::uint16_t port, Clock::time_point deadline, bool& portTaken) {
  portTaken = false;
  const auto conf = dir_ / "mosquitto.conf";
  const auto log = dir_ / "mosquitto.log";
  const auto out = dir_ / "mosquitto.out";
  std::error_code ec;
  fs::remove(log, ec);  // each attempt starts a clean log, so logTail() shows this one
  std::string ownConfig;
  if (!options_.configFile.empty()) {
    auto rewritten = withListenerPort(options_.configFile, port);
    if (!rewritten) return rewritten.error();
    ownConfig = std::move(rewritten).value();
  }
  {
    std::ofstream c(conf);
    constexpr const char* kLogLines = "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    if (!options_.configFile.empty()) {
      // Persistence and TLS are the config file's business.
      c << ownConfig << "\n# appended by the test harness\nlog_dest file " << log.string() << "\n" << kLogLines;
    } else {
      c << "listener " << port << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "log_dest file " << log.string() << "\n"
        << kLogLines << "connection_messages true\n"
        // Subscribers of large test runs may fall behind; the default queue (1000) would drop.
        << "max_queued_messages 0\n";
      if (options_.persistence) {
        c << "persistence true\npersistence_location " << (dir_ / "").string() << "\n";
      } else {
        c << "persistence false\n";
      }
      if (const auto& tls = options_.tls) {
        // Listener settings: they follow the listener line above.
        c << "cafile " << tls->caFile.string() << "\ncertfile " << tls->certFile.string() << "\nkeyfile "
          << tls->keyFile.string() << "\nrequire_certificate " << (tls->requireCertificate ? "true" : "false") << "\n";
        if (!tls->tlsVersion.empty()) c << "tls_version " << tls->tlsVersion << "\n";
      }
    }
    // As root, Mosquitto would switch to user "mosquitto", which cannot write our directory.
    if (::geteuid() == 0) c << "user root\n";
    for (const auto& line : options_.extraConfig) c << line << "\n";
    if (!c) return Error{"cannot write " + conf.string()};
  }

  // Everything the child needs is prepared before fork(): between fork() and exec()
  // a multi-threaded parent (Paho's threads) may only make async-signal-safe calls.
  std::string confArg = conf.string();
  char arg0[] = "mosquitto";
  char arg1[] = "-c";
  char* argv[] = {arg0, arg1, confArg.data(), nullptr};
  const int outFd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (outFd < 0) return Error{errnoText(("open " + out.string()).c_str())};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    auto e = Error{errnoText("fork")};
    ::close(outFd);
    return e;
  }
  if (pid == 0) {
    // A crashed or killed test must not leave its broker behind.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    const int devNull = ::open("/dev/null", O_RDONLY);
    ::dup2(devNull, STDIN_FILENO);
    ::dup2(outFd, STDOUT_FILENO);
    ::dup2(outFd, STDERR_FILENO);
    // The test's own sockets (Paho clients) must not leak into the broker: an
    // inherited client socket would keep a connection half-alive after the test
    // closed it.
    ::close_range(3, ~0U, 0);
    ::execv(binary_.c_str(), argv);
    ::_exit(127);
  }
  ::close(outFd);
  pid_ = pid;
  port_ = port;
  pidfd_ = openPidfd(pid);
  if (pidfd_ < 0) {
    auto e = Error{errnoText("pidfd_open")};
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid_ = -1;
    return e;
  }

  // Ready once Mosquitto says it runs (its listeners are open then) and the port
  // answers. Between checks we wait on the process itself, so an early exit (bad
  // config, port taken) ends the wait at once.
  constexpr int kCheckEveryMs = 10;
  while (true) {
    pollfd p{pidfd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, kCheckEveryMs);
    if (ready > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      ::close(pidfd_);
      pidfd_ = -1;
      pid_ = -1;
      const auto text = readFile(log) + readFile(out);
      portTaken = text.find("Address already in use") != std::string::npos;
      return Error{"mosquitto on port " + std::to_string(port) + " exited during start-up (status " +
                   std::to_string(status) + "); log:\n" + logTail()};
    }
    if (readFile(log).find(" running") != std::string::npos && acceptsConnections(port)) return {};
    if (Clock::now() >= deadline) {
      auto s = reap(std::chrono::milliseconds(1000));
      (void)s;
      return Error{"mosquitto on port " + std::to_string(port) + " did not accept connections within " +
                   std::to_string(options_.startTimeout.count()) + " ms; log:\n" + logTail()};
    }
  }
}

Status MosquittoBroker::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return {};
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a paused broker acts on SIGTERM only once it runs again
  return reap(grace);
}

Status MosquittoBroker::pause() {
  if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0) return Error{"pause: mosquitto is not running"};
  return {};
}

Status MosquittoBroker::resume() {
  if (pid_ <= 0 || ::kill(pid_, SIGCONT) != 0) return Error{"resume: mosquitto is not running"};
  return {};
}

Status MosquittoBroker::kill() {
  if (pid_ <= 0) return {};
  ::kill(pid_, SIGKILL);
  return reap(std::chrono::milliseconds(5000));
}

Status MosquittoBroker::reap(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return {};
  pollfd p{pidfd_, POLLIN, 0};
  Status result;
  if (::poll(&p, 1, static_cast<int>(grace.count())) <= 0) {
    ::kill(pid_, SIGKILL);
    result = Error{"mosquitto (pid " + std::to_string(pid_) + ") ignored SIGTERM; killed"};
  }
  ::waitpid(pid_, nullptr, 0);
  ::close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
  return result;
}

MosquittoBroker::~MosquittoBroker() {
  auto s = stop();
  (void)s;  // nothing left to report to in a destructor
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string MosquittoBroker::logTail(std::size_t maxLines) const {
  std::deque<std::string> lines;
  for (const auto& file : {dir_ / "mosquitto.out", dir_ / "mosquitto.log"}) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
      if (lines.size() > maxLines) lines.pop_front();
    }
  }
  std::string tail;
  for (const auto& line : lines) tail += "  " + line + "\n";
  return tail.empty() ? "  (empty)\n" : tail;
}

}  // namespace cordon::test
