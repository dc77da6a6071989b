#include "tests/e2e/gateway/gateway_process.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/support/exact_json.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const json::value* member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::uint64_t uintOf(const json::object& o, std::string_view key, bool& ok) {
  const json::value* v = member(o, key);
  if (v == nullptr) {
    ok = false;
    return 0;
  }
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double() && v->as_double() >= 0) return static_cast<std::uint64_t>(v->as_double());
  ok = false;
  return 0;
}

// A counter that only some gateways publish: nullopt when absent, an error when malformed.
std::optional<std::uint64_t> optionalUintOf(const json::object& o, std::string_view key, bool& ok) {
  if (member(o, key) == nullptr) return std::nullopt;
  return uintOf(o, key, ok);
}

bool boolOf(const json::object& o, std::string_view key, bool& ok) {
  const json::value* v = member(o, key);
  if (v == nullptr || !v->is_bool()) {
    ok = false;
    return false;
  }
  return v->as_bool();
}

}  // namespace

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const EndpointStatus* GatewayStatus::endpoint(std::string_view name) const {
  for (const auto& e : endpoints) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

bool GatewayStatus::nothingWaiting() const {
  return ingestUncommitted == 0 && std::all_of(endpoints.begin(), endpoints.end(), [](const EndpointStatus& e) {
           return e.pending == 0 && e.inFlight == 0;
         });
}

Result<GatewayStatus> parseStatus(std::string_view text) {
  std::string error;
  const auto parsed = parseJsonExact(text, &error);
  if (!parsed || !parsed->is_object()) return Error{"status is not a JSON object: " + error};
  const json::object& o = parsed->as_object();
  GatewayStatus s;
  s.text = std::string(text);
  bool ok = true;
  if (const auto* state = member(o, "state"); state != nullptr && state->is_string()) {
    s.state = std::string(state->as_string());
  } else {
    ok = false;
  }
  if (const auto* time = member(o, "time_ns"); time != nullptr && time->is_int64()) {
    s.timeNs = time->as_int64();
  } else if (time != nullptr && time->is_uint64()) {
    s.timeNs = static_cast<std::int64_t>(time->as_uint64());
  } else {
    ok = false;
  }
  if (const auto* ingest = member(o, "ingest"); ingest != nullptr && ingest->is_object()) {
    s.ingestConnected = boolOf(ingest->as_object(), "connected", ok);
    s.ingestFrames = uintOf(ingest->as_object(), "frames", ok);
    s.ingestRejected = uintOf(ingest->as_object(), "rejected", ok);
    s.ingestGaps = uintOf(ingest->as_object(), "gaps", ok);
    s.ingestMissing = uintOf(ingest->as_object(), "missing", ok);
    s.ingestDuplicates = optionalUintOf(ingest->as_object(), "duplicates", ok);
    s.ingestUncommitted = uintOf(ingest->as_object(), "uncommitted", ok);
  } else {
    ok = false;
  }
  if (const auto* relay = member(o, "relay"); relay != nullptr) {
    if (relay->is_object()) {
      s.relayVehicles = optionalUintOf(relay->as_object(), "vehicles", ok);
    } else {
      ok = false;
    }
  }
  bool commitsOk = true;
  s.commits = uintOf(o, "commits", commitsOk);
  s.commitFailures = uintOf(o, "commit_failures", commitsOk);
  if (const auto* endpoints = member(o, "endpoints"); endpoints != nullptr && endpoints->is_array()) {
    for (const json::value& v : endpoints->as_array()) {
      if (!v.is_object()) {
        ok = false;
        continue;
      }
      const json::object& e = v.as_object();
      EndpointStatus es;
      if (const auto* name = member(e, "name"); name != nullptr && name->is_string()) {
        es.name = std::string(name->as_string());
      } else {
        ok = false;
      }
      es.domestic = boolOf(e, "domestic", ok);
      es.connected = boolOf(e, "connected", ok);
      es.queued = uintOf(e, "queued", ok);
      es.empty = uintOf(e, "empty", ok);
      es.acked = uintOf(e, "acked", ok);
      es.evicted = uintOf(e, "evicted", ok);
      es.pending = uintOf(e, "pending", ok);
      es.inFlight = uintOf(e, "in_flight", ok);
      if (const auto* fields = member(e, "fields"); fields != nullptr && fields->is_object()) {
        for (const auto& [k, count] : fields->as_object()) {
          bool fieldOk = true;
          es.fields[std::string(k)] = uintOf(fields->as_object(), k, fieldOk);
        }
      }
      s.endpoints.push_back(std::move(es));
    }
  } else {
    ok = false;
  }
  if (!ok) return Error{"status lacks a key of the status contract: " + s.text};
  return s;
}

// ---------------------------------------------------------------------------------

GatewayProcess::GatewayProcess(std::string name, fs::path binary, fs::path dir, json::object config)
    : name_(std::move(name)), binary_(std::move(binary)), dir_(std::move(dir)), config_(std::move(config)) {}

GatewayProcess::~GatewayProcess() {
  if (process_) {
    auto killed = process_->signal(SIGKILL);
    (void)killed;  // already gone is fine
    process_->wait(5s);
  }
  status_.reset();
}

Result<std::unique_ptr<GatewayProcess>> GatewayProcess::create(std::string name, fs::path binary, fs::path dir,
                                                               TestSubscriberOptions statusWatch,
                                                               json::object config) {
  std::unique_ptr<GatewayProcess> p(
      new GatewayProcess(std::move(name), std::move(binary), std::move(dir), std::move(config)));
  statusWatch.capacity = std::max<std::size_t>(statusWatch.capacity, 1'000'000);
  auto watcher = TestSubscriber::start(statusWatch);
  if (!watcher) return Error{p->name_ + " status watcher: " + watcher.error().message};
  p->status_ = std::move(watcher).value();
  return p;
}

std::size_t GatewayProcess::endpointIndex(std::string_view name) const {
  const json::array& endpoints = config_.at("endpoints").as_array();
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i].as_object().at("name").as_string() == name) return i;
  }
  throw std::out_of_range("no endpoint " + std::string(name) + " in the config of " + name_);
}

json::object& GatewayProcess::endpointConfig(std::string_view name) {
  return config_.at("endpoints").as_array().at(endpointIndex(name)).as_object();
}

fs::path GatewayProcess::writeConfig(std::string_view fileName) const {
  const fs::path file = dir_ / (fileName.empty() ? name_ + ".json" : std::string(fileName));
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << json::serialize(config_) << "\n";
  return file;
}

Status GatewayProcess::start(std::optional<std::vector<std::string>> awaitConnected,
                             std::chrono::milliseconds timeout) {
  if (Status launched = launch(); !launched) return launched;
  std::vector<std::string> await;
  if (awaitConnected) {
    await = *awaitConnected;
  } else {
    for (const json::value& e : config_.at("endpoints").as_array()) {
      await.emplace_back(e.as_object().at("name").as_string());
    }
  }
  auto up = waitForStatus(
      [&](const GatewayStatus& s) {
        if (s.state != "running" || !s.ingestConnected) return false;
        return std::all_of(await.begin(), await.end(), [&](const std::string& name) {
          const EndpointStatus* e = s.endpoint(name);
          return e != nullptr && e->connected;
        });
      },
      timeout);
  if (!up) return Error{name_ + " did not come up: " + up.error().message + "\nits log:\n" + log()};
  return {};
}

Status GatewayProcess::launch() {
  if (::access(binary_.c_str(), X_OK) != 0) return Error{binary_.string() + ": not an executable"};
  if (process_ && process_->running()) return Error{name_ + " is already running"};
  const fs::path config = writeConfig();
  ++starts_;
  const fs::path logFile = dir_ / (name_ + "-" + std::to_string(starts_) + ".log");
  std::vector<std::string> args = {"--config", config.string()};
  fs::path program = binary_;
  if (!prefix_.empty()) {
    program = prefix_.front();
    std::vector<std::string> prefixed(prefix_.begin() + 1, prefix_.end());
    prefixed.push_back(binary_.string());
    prefixed.insert(prefixed.end(), args.begin(), args.end());
    args = std::move(prefixed);
  }
  auto child = ChildProcess::start(program, args, logFile);
  if (!child) return Error{name_ + ": " + child.error().message};
  process_ = std::move(child).value();
  return {};
}

ToolRun GatewayProcess::runToExit(const fs::path& config, std::vector<std::string> extraArgs,
                                  std::chrono::milliseconds timeout) {
  ToolRun result;
  std::vector<std::string> args = {"--config", config.string()};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  ++starts_;
  const fs::path out = dir_ / (name_ + "-" + std::to_string(starts_) + ".out");
  const fs::path err = dir_ / (name_ + "-" + std::to_string(starts_) + ".err");
  // ChildProcess merges stdout and stderr; a shell keeps them apart.
  std::string command = "exec '" + binary_.string() + "'";
  for (const auto& a : args) command += " '" + a + "'";
  command += " >'" + out.string() + "' 2>'" + err.string() + "'";
  auto child = ChildProcess::start("/bin/sh", {"-c", command}, dir_ / (name_ + "-shell.log"));
  if (!child) {
    result.err = child.error().message;
    return result;
  }
  const auto exit = child.value()->wait(timeout);
  if (!exit) {
    auto killed = child.value()->signal(SIGKILL);
    (void)killed;
    child.value()->wait(5s);
    result.exit = -1;
  } else {
    result.exit = *exit;
  }
  result.out = readFile(out);
  result.err = readFile(err);
  if (!exit) result.err += "\n(still running after " + std::to_string(timeout.count()) + " ms: killed)";
  return result;
}

bool GatewayProcess::running() {
  return process_ && process_->running();
}

std::optional<int> GatewayProcess::stop(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  if (process_->running()) {
    if (Status s = process_->signal(SIGTERM); !s) return std::nullopt;
  }
  return process_->wait(timeout);
}

Status GatewayProcess::kill() {
  if (!process_) return Error{"no " + name_ + " started"};
  if (Status s = process_->signal(SIGKILL); !s) return s;
  if (!process_->wait(10s)) return Error{name_ + " survived SIGKILL"};
  return {};
}

std::string GatewayProcess::log() const {
  return process_ ? process_->log() : std::string();
}

std::optional<pid_t> GatewayProcess::pid() const {
  if (!process_) return std::nullopt;
  return process_->pid();
}

// ---- status

std::optional<GatewayStatus> GatewayProcess::latestStatus() const {
  const std::size_t n = status_->count();
  if (n == 0) return std::nullopt;
  const auto last = status_->messages(n - 1);
  if (last.empty()) return std::nullopt;
  auto parsed = parseStatus(std::string_view(reinterpret_cast<const char*>(last.back().payload.data()),
                                             last.back().payload.size()));
  if (!parsed) return std::nullopt;
  return parsed.value();
}

Result<GatewayStatus> GatewayProcess::waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Only statuses published after this call: a retained one may be an earlier process's.
  std::size_t seen = status_->count();
  std::string lastText = "(none)";
  std::string lastProblem;
  while (true) {
    const auto slice = std::min(deadline, Clock::now() + 500ms);
    if (status_->waitForCount(seen + 1, slice)) {
      const auto fresh = status_->messages(seen);
      seen += fresh.size();
      for (const auto& m : fresh) {
        const std::string_view text(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
        lastText = std::string(text);
        auto parsed = parseStatus(text);
        if (!parsed) {
          lastProblem = parsed.error().message;
          continue;
        }
        if (done(parsed.value())) return parsed.value();
      }
    }
    if (process_ && !process_->running()) {
      return Error{name_ + " exited (" + std::to_string(process_->wait(0ms).value_or(-1)) +
                   "); last status: " + lastText};
    }
    if (Clock::now() >= deadline) {
      return Error{name_ + ": no status met the condition within " + std::to_string(timeout.count()) +
                   " ms; last status: " + lastText + (lastProblem.empty() ? "" : " (" + lastProblem + ")")};
    }
  }
}

Result<GatewayStatus> GatewayProcess::waitForDrain(std::uint64_t frames, std::chrono::milliseconds timeout) {
  struct Counters {
    std::uint64_t frames = 0, rejected = 0;
    std::vector<std::uint64_t> perEndpoint;
    bool operator==(const Counters&) const = default;
  };
  std::optional<Counters> previous;
  int still = 0;
  return waitForStatus(
      [&](const GatewayStatus& s) {
        Counters c{s.ingestFrames, s.ingestRejected, {}};
        const bool idle = s.ingestFrames >= frames && s.nothingWaiting();
        for (const auto& e : s.endpoints) {
          c.perEndpoint.insert(c.perEndpoint.end(), {e.queued, e.empty, e.acked, e.evicted});
        }
        still = (previous && *previous == c) ? still + 1 : 0;
        previous = c;
        return idle && still >= 2;
      },
      timeout);
}

}  // namespace cordon::test::e2e
