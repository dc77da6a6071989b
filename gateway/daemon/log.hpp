#pragma once
// The gateway's log: one line per event on stderr, prefixed with its syslog priority
// ("<6>"), which journald reads as the line's level (sd-daemon(3)); so under systemd
// `journalctl -p warning -u cordon-gateway` works without a logging library.
//
// Threads: log() may be called from any thread; lines are written whole.
#include <string_view>

#include "gateway/config/gateway_config.hpp"

namespace cordon::daemon {

using config::LogLevel;

void setLogLevel(LogLevel level);
bool logs(LogLevel level);
void log(LogLevel level, std::string_view message);

}  // namespace cordon::daemon
