// cordon-gateway: the filter daemon on the gateway ECU (README.md, "cordon-gateway";
// docs/config.md). Loads and checks its config and policy, then runs until SIGTERM.
#include <boost/program_options.hpp>

#include <iostream>

#include "gateway/config/gateway_config.hpp"
#include "gateway/daemon/gateway.hpp"
#include "gateway/daemon/log.hpp"
#include "gateway/tools/command_line.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

constexpr const char* kUsage =
    "usage: cordon-gateway --config FILE [--check]\n"
    "\n"
    "Filters vehicle telemetry per endpoint under the signed policy bundle the config names,\n"
    "keeps an outbox and a tamper-evident audit log in one SQLite file, and uploads over MQTT.\n"
    "Runs until SIGTERM or SIGINT (then drains: commits, sends what it can for up to 10 s,\n"
    "signs the audit log and stops); SIGHUP reloads the policy bundle (a bad, unsigned, older\n"
    "or expired bundle is refused and audited; the running one stays).\n"
    "Logs go to stderr with syslog priority prefixes for journald; the status is published,\n"
    "retained, on the config's status_topic at the ingest broker.\n"
    "\n"
    "Exit status: 0 stopped cleanly (or --check found nothing), 1 failed while running,\n"
    "2 bad usage, config, keys or policy (every problem printed, one per line).\n";

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("config,c", po::value<std::string>()->required(), "the gateway config (JSON, docs/config.md)")(
      "check", "load the config, keys and policy, run the start-up checks, and exit")("version", "print the version");
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (std::find(args.begin(), args.end(), "--version") != args.end()) {
      std::cout << "cordon-gateway " CORDON_VERSION "\n";
      return cli::kExitOk;
    }
    const auto vm = cli::parse(args, options, {}, kUsage);
    auto config = config::loadConfig(vm["config"].as<std::string>());
    if (!config) {
      std::cerr << config.error().message << '\n';
      return cli::kExitUsage;
    }
    if (vm.count("check")) {
      if (Status s = daemon::checkOnly(config.value()); !s) {
        std::cerr << s.message() << '\n';
        return cli::kExitUsage;
      }
      std::cout << "cordon-gateway: " << vm["config"].as<std::string>() << ": config and policy pass the checks\n";
      return cli::kExitOk;
    }
    auto gateway = daemon::Gateway::create(std::move(config.value()));
    if (!gateway) {
      std::cerr << gateway.error().message << '\n';
      return cli::kExitUsage;
    }
    return gateway.value()->run();
  } catch (const cli::Failure& failure) {
    if (!failure.message.empty()) {
      (failure.exitCode == cli::kExitOk ? std::cout : std::cerr) << "cordon-gateway: " << failure.message << '\n';
    }
    return failure.exitCode;
  }
}
