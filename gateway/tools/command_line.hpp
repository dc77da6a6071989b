#pragma once
// What Cordon's multi-command tools (cordon-policy, cordon-audit) share: exit codes,
// the failure they throw to main(), option parsing with --help, and the dispatch of
// `TOOL COMMAND [options]`.
#include <boost/program_options.hpp>

#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown by a command; main() prints the message and exits with the code.
struct Failure {
  int exitCode;
  std::string message;
};

// Parses a command's arguments; adds --help, which prints `usage` and the options.
inline boost::program_options::variables_map parse(
    const std::vector<std::string>& args, boost::program_options::options_description options,
    const boost::program_options::positional_options_description& positional, const char* usage) {
  namespace po = boost::program_options;
  options.add_options()("help,h", "this help");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << options;
      throw Failure{kExitOk, ""};
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Failure{kExitUsage, std::string(e.what()) + "\n" + usage};
  }
  return vm;
}

using Command = std::function<int(const std::vector<std::string>&)>;

// `tool COMMAND args...`: runs the command, turning a Failure into its message and code.
inline int dispatch(std::string_view tool, const char* usage,
                    const std::map<std::string, Command, std::less<>>& commands, int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    (argc < 2 ? std::cerr : std::cout) << usage;
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const auto command = commands.find(std::string_view(argv[1]));
  if (command == commands.end()) {
    std::cerr << tool << ": unknown command '" << argv[1] << "'\n" << usage;
    return kExitUsage;
  }
  try {
    return command->second(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const Failure& failure) {
    if (!failure.message.empty()) {
      (failure.exitCode == kExitOk ? std::cout : std::cerr) << tool << ": " << failure.message << '\n';
    }
    return failure.exitCode;
  }
}

}  // namespace cordon::cli
