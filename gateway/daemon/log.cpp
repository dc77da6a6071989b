#include "gateway/daemon/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace cordon::daemon {

namespace {

std::atomic<LogLevel> threshold{LogLevel::Info};
std::mutex writeMutex;

// syslog priorities: 3 err, 4 warning, 6 info, 7 debug (trace is debug too).
char priorityOf(LogLevel level) {
  switch (level) {
    case LogLevel::Error: return '3';
    case LogLevel::Warn: return '4';
    case LogLevel::Info: return '6';
    case LogLevel::Debug:
    case LogLevel::Trace: return '7';
  }
  return '6';
}

}  // namespace

void setLogLevel(LogLevel level) { threshold = level; }

bool logs(LogLevel level) { return static_cast<int>(level) >= static_cast<int>(threshold.load()); }

void log(LogLevel level, std::string_view message) {
  if (!logs(level)) return;
  std::string line = "<";
  line += priorityOf(level);
  line += ">cordon-gateway: ";
  line += message;
  line += '\n';
  std::lock_guard lock(writeMutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace cordon::daemon
