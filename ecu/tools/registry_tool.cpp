// cordon-registry: maintains the append-only signal registry (schemas/signals.json).
//
//   cordon-registry sync    --registry F --extensions F --vss F [--versions F]
//   cordon-registry version [--registry F]
//   cordon-registry check   --registry F --versions F
//   cordon-registry lookup  [--registry F] PATH-OR-ID...
//
// sync appends what the sources add and never renumbers or drops an entry; an entry
// whose datatype or unit changed upstream is an error (give it a new path instead).
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"

namespace po = boost::program_options;
namespace json = boost::json;
using cordon::ecu::DataType;
using cordon::ecu::Registry;
using cordon::ecu::SignalInfo;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Candidate {
  std::string path;
  DataType datatype;
  std::string unit;
};

std::string readText(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

json::value parseJsonFile(const std::string& file) {
  boost::system::error_code ec;
  json::value value = json::parse(readText(file), ec);
  if (ec) throw std::runtime_error(file + ": " + ec.message());
  return value;
}

std::string stringOr(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// VSS datatype names ("uint8", "string[]") to the registry's.
DataType fromVssDatatype(const std::string& vss, const std::string& path) {
  static const std::pair<const char*, DataType> kScalars[] = {
      {"boolean", DataType::Boolean}, {"int8", DataType::Int8},     {"int16", DataType::Int16},
      {"int32", DataType::Int32},     {"int64", DataType::Int64},   {"uint8", DataType::UInt8},
      {"uint16", DataType::UInt16},   {"uint32", DataType::UInt32}, {"uint64", DataType::UInt64},
      {"float", DataType::Float},     {"double", DataType::Double}, {"string", DataType::String}};
  static const std::pair<const char*, DataType> kArrays[] = {
      {"boolean", DataType::BooleanArray}, {"int8", DataType::Int8Array},     {"int16", DataType::Int16Array},
      {"int32", DataType::Int32Array},     {"int64", DataType::Int64Array},   {"uint8", DataType::UInt8Array},
      {"uint16", DataType::UInt16Array},   {"uint32", DataType::UInt32Array}, {"uint64", DataType::UInt64Array},
      {"float", DataType::FloatArray},     {"double", DataType::DoubleArray}, {"string", DataType::StringArray}};
  const bool array = vss.size() > 2 && vss.ends_with("[]");
  const std::string base = array ? vss.substr(0, vss.size() - 2) : vss;
  for (const auto& [name, type] : array ? std::span(kArrays) : std::span(kScalars)) {
    if (base == name) return type;
  }
  throw std::runtime_error(path + ": VSS datatype '" + vss + "' has no registry type");
}

std::vector<Candidate> extensionCandidates(const std::string& file) {
  std::vector<Candidate> out;
  const auto root = parseJsonFile(file);
  for (const auto& item : root.at("signals").as_array()) {
    const auto& obj = item.as_object();
    const auto path = stringOr(obj, "path");
    const auto typeName = stringOr(obj, "datatype");
    const auto type = cordon::ecu::dataTypeFromName(typeName);
    if (!path.starts_with("Cordon.")) throw std::runtime_error(file + ": extension " + path + " is outside Cordon.*");
    if (!type) throw std::runtime_error(file + ": " + path + ": unknown datatype '" + typeName + "'");
    out.push_back({path, *type, stringOr(obj, "unit")});
  }
  return out;
}

std::vector<Candidate> vssCandidates(const std::string& file, std::string& version, std::string& source) {
  std::vector<Candidate> out;
  const auto root = parseJsonFile(file);
  const auto& obj = root.as_object();
  version = stringOr(obj, "vss_version");
  source = stringOr(obj, "source");
  for (const auto& item : obj.at("signals").as_array()) {
    const auto& sig = item.as_object();
    const auto path = stringOr(sig, "path");
    out.push_back({path, fromVssDatatype(stringOr(sig, "datatype"), path), stringOr(sig, "unit")});
  }
  return out;
}

std::string jsonString(std::string_view text) {
  return json::serialize(json::string(text));
}

// One entry per line so that a change to the registry reads as a one-line diff.
void writeRegistry(const std::string& file, const std::string& vssVersion, const std::string& vssSource,
                   const std::vector<SignalInfo>& entries) {
  std::ostringstream out;
  out << "{\n  \"vss_version\": " << jsonString(vssVersion) << ",\n  \"vss_source\": " << jsonString(vssSource)
      << ",\n  \"signals\": [\n";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    out << "    {\"id\": " << e.id << ", \"path\": " << jsonString(e.path) << ", \"datatype\": \""
        << cordon::ecu::nameOf(e.datatype) << "\", \"unit\": " << jsonString(e.unit) << "}"
        << (i + 1 < entries.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  const std::string tmp = file + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << out.str();
    if (!f.flush()) throw std::runtime_error(tmp + ": cannot write");
  }
  std::filesystem::rename(tmp, file);
}

std::shared_ptr<const Registry> loadRegistry(const std::string& file) {
  auto loaded = file.empty() ? cordon::Result<std::shared_ptr<const Registry>>(Registry::builtin())
                             : Registry::fromJsonFile(file);
  if (!loaded) throw std::runtime_error(loaded.error().message);
  return loaded.value();
}

std::vector<cordon::ecu::RegistryVersion> readVersions(const std::string& file) {
  std::vector<cordon::ecu::RegistryVersion> versions;
  std::istringstream in(std::filesystem::exists(file) ? readText(file) : std::string());
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty() || line.front() == '#') continue;
    cordon::ecu::RegistryVersion v;
    const auto colon = line.find(':');
    const char* end = line.data() + line.size();
    if (colon == std::string::npos || std::from_chars(line.data(), line.data() + colon, v.count).ec != std::errc{} ||
        std::from_chars(line.data() + colon + 1, end, v.hash, 16).ec != std::errc{}) {
      throw std::runtime_error(file + ":" + std::to_string(lineNo) + ": expected COUNT:HASH");
    }
    versions.push_back(v);
  }
  return versions;
}

int sync(const po::variables_map& vm) {
  const auto registryFile = vm["registry"].as<std::string>();
  std::vector<SignalInfo> entries;
  std::string vssVersion, vssSource;
  if (std::filesystem::exists(registryFile)) {
    auto existing = loadRegistry(registryFile);
    entries.assign(existing->signals().begin(), existing->signals().end());
    vssVersion = existing->vssVersion();
    vssSource = existing->vssSource();
  }
  std::unordered_map<std::string, std::size_t> byPath;
  for (std::size_t i = 0; i < entries.size(); ++i) byPath.emplace(entries[i].path, i);

  std::vector<Candidate> candidates = extensionCandidates(vm["extensions"].as<std::string>());
  std::string newVssVersion, newVssSource;
  auto vss = vssCandidates(vm["vss"].as<std::string>(), newVssVersion, newVssSource);
  candidates.insert(candidates.end(), vss.begin(), vss.end());

  std::size_t added = 0;
  for (const auto& c : candidates) {
    if (auto it = byPath.find(c.path); it != byPath.end()) {
      const auto& have = entries[it->second];
      if (have.datatype != c.datatype || have.unit != c.unit) {
        throw std::runtime_error(c.path + " changed upstream (" + std::string(cordon::ecu::nameOf(have.datatype)) +
                                 " " + have.unit + " -> " + std::string(cordon::ecu::nameOf(c.datatype)) + " " +
                                 c.unit + "); registry entries are immutable, add it under a new path");
      }
      continue;
    }
    entries.push_back({static_cast<std::uint32_t>(entries.size() + 1), c.path, c.datatype, c.unit});
    byPath.emplace(c.path, entries.size() - 1);
    ++added;
  }
  // The VSS version names the release the newest Vehicle.* entries came from.
  if (added > 0 || vssVersion.empty()) {
    vssVersion = newVssVersion;
    vssSource = newVssSource;
  }
  writeRegistry(registryFile, vssVersion, vssSource, entries);
  auto written = loadRegistry(registryFile);
  std::cout << "registry " << registryFile << ": " << written->size() << " signals (" << added << " added), version "
            << cordon::ecu::toString(written->version()) << "\n";
  if (vm.count("versions") && added > 0) {
    std::ofstream out(vm["versions"].as<std::string>(), std::ios::app);
    out << cordon::ecu::toString(written->version()) << "\n";
  }
  return kExitOk;
}

int check(const po::variables_map& vm) {
  auto registry = loadRegistry(vm["registry"].as<std::string>());
  const auto versions = readVersions(vm["versions"].as<std::string>());
  int bad = 0;
  for (const auto& v : versions) {
    if (!registry->hasPrefix(v)) {
      std::cerr << "released registry version " << cordon::ecu::toString(v)
                << " is not a prefix of the current registry: an entry was changed, removed or reordered\n";
      ++bad;
    }
  }
  if (versions.empty() || !(versions.back() == registry->version())) {
    std::cerr << "current version " << cordon::ecu::toString(registry->version()) << " is not recorded in "
              << vm["versions"].as<std::string>() << " (run cordon-registry sync with --versions)\n";
    ++bad;
  }
  if (bad == 0)
    std::cout << versions.size() << " released versions are prefixes of " << registry->size() << " signals\n";
  return bad == 0 ? kExitOk : kExitFailure;
}

int lookup(const po::variables_map& vm) {
  auto registry = loadRegistry(vm.count("registry") ? vm["registry"].as<std::string>() : "");
  int missing = 0;
  for (const auto& key : vm["keys"].as<std::vector<std::string>>()) {
    std::uint32_t id = 0;
    const bool numeric = std::from_chars(key.data(), key.data() + key.size(), id).ec == std::errc{};
    const SignalInfo* info = numeric ? registry->find(id) : nullptr;
    if (!numeric) {
      if (auto found = registry->idOf(key)) info = registry->find(*found);
    }
    if (!info) {
      std::cerr << key << ": not in the registry\n";
      ++missing;
      continue;
    }
    std::cout << info->id << "\t" << info->path << "\t" << cordon::ecu::nameOf(info->datatype) << "\t" << info->unit
              << "\n";
  }
  return missing == 0 ? kExitOk : kExitFailure;
}

void usage(std::ostream& out, const po::options_description& options) {
  out << "Usage: cordon-registry COMMAND [options]\n\n"
         "Maintains Cordon's append-only signal registry (schemas/signals.json).\n\n"
         "Commands:\n"
         "  sync     append signals that the extension list or the VSS catalogue add\n"
         "  version  print the registry version (COUNT:HASH)\n"
         "  check    confirm every released version is a prefix of the registry\n"
         "  lookup   print id, path, datatype and unit of each PATH or ID\n\n"
         "Without --registry, version and lookup use the registry built into this binary.\n"
         "Exit status: 0 success, 1 failure (named on stderr), 2 bad usage.\n\n"
      << options;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("registry", po::value<std::string>(), "registry JSON file")(
      "extensions", po::value<std::string>(), "Cordon extension signals (schemas/extensions.json)")(
      "vss", po::value<std::string>(), "VSS catalogue (vss.json)")("versions", po::value<std::string>(),
                                                                   "released versions, one COUNT:HASH per line");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("keys", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("keys", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "cordon-registry: " << e.what() << "\n";
    usage(std::cerr, options);
    return kExitUsage;
  }
  if (vm.count("help") || !vm.count("command")) {
    usage(vm.count("help") ? std::cout : std::cerr, options);
    return vm.count("help") ? kExitOk : kExitUsage;
  }
  const auto command = vm["command"].as<std::string>();
  auto require = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (!vm.count(name)) {
        std::cerr << "cordon-registry " << command << ": --" << name << " is required\n";
        return false;
      }
    }
    return true;
  };
  try {
    if (command == "sync") return require({"registry", "extensions", "vss"}) ? sync(vm) : kExitUsage;
    if (command == "check") return require({"registry", "versions"}) ? check(vm) : kExitUsage;
    if (command == "version") {
      auto registry = loadRegistry(vm.count("registry") ? vm["registry"].as<std::string>() : "");
      std::cout << cordon::ecu::toString(registry->version()) << "\n";
      return kExitOk;
    }
    if (command == "lookup") return vm.count("keys") ? lookup(vm) : (usage(std::cerr, options), kExitUsage);
  } catch (const std::exception& e) {
    std::cerr << "cordon-registry " << command << ": " << e.what() << "\n";
    return kExitFailure;
  }
  std::cerr << "cordon-registry: unknown command '" << command << "'\n";
  usage(std::cerr, options);
  return kExitUsage;
}
