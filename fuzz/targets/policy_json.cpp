// Policy JSON: PolicySource::load on arbitrary text, then, when it parses, compilePolicy
// against the builtin registry and CompiledPolicy::fromBundleBytes on what it produced.
//
// PolicySource takes a file path, so each input is written to policy.json in a private
// scratch directory (tmpfs) that also holds the default base policy (cn-auto-2026.json)
// and its GeoJSON data, so inputs that name them compile all the way through.
// A policy names further files (`base`, `data.geofences`, `data.mainland_boundary`)
// relative to itself; the target refuses inputs whose names leave the scratch directory
// (absolute, or with a `..`), so that the fuzzer never reads /dev/zero or the host's files.
#include <flatbuffers/idl.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/compiled_policy.hpp"
#include "gateway/policy/embedded_schema.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"

namespace {

using namespace cordon;
namespace fs = std::filesystem;

void copyFile(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path policies = fs::path(CORDON_SOURCE_DIR) / "policies";
    const fs::path& d = fuzz::scratchDir();
    copyFile(policies / "cn-auto-2026.json", d / "cn-auto-2026.json");
    copyFile(policies / "data/sensitive-areas.geojson", d / "data/sensitive-areas.geojson");
    copyFile(policies / "data/mainland-china.geojson", d / "data/mainland-china.geojson");
    return d;
  }();
  return dir;
}

bool staysInside(const flatbuffers::String* name) {
  if (name == nullptr) return true;
  const fs::path path(name->str());
  if (path.is_absolute() || name->str().find('\0') != std::string::npos) return false;
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return true;
}

// Parses the text as PolicySource will and says whether the files it names stay in the
// scratch directory. Text that does not parse is safe: load() stops at the same error.
bool namesOnlyScratchFiles(const std::string& text) {
  flatbuffers::IDLOptions options;
  options.strict_json = false;
  flatbuffers::Parser parser(options);
  const auto schema = policy::embedded::policySchema();
  fuzz::fuzzCheck(parser.Deserialize(schema.data(), schema.size()), "embedded policy schema loads");
  if (!parser.Parse(text.c_str())) return true;
  flatbuffers::Verifier verifier(parser.builder_.GetBufferPointer(), parser.builder_.GetSize());
  if (!wire::policy::VerifyPolicyBuffer(verifier)) return true;  // load() refuses it too
  const auto* root = wire::policy::GetPolicy(parser.builder_.GetBufferPointer());
  if (!staysInside(root->base())) return false;
  if (const auto* data = root->data()) return staysInside(data->geofences()) && staysInside(data->mainland_boundary());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path file = scratch() / "policy.json";
  const std::string text(fuzz::textOf(data, size));
  if (!namesOnlyScratchFiles(text)) return 0;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    fuzz::fuzzCheck(out.good(), "write the input to the scratch directory");
  }
  auto source = policy::PolicySource::load(file);
  if (!source) {
    fuzz::consume(source.error().message);
    return 0;
  }
  for (const auto* document : source->documents()) fuzz::consume(document->where("\"id\""));

  policy::CompileOptions options;
  options.now = 1'795'000'000;  // fixed, as in the policy tests
  options.reviewWildcardOrdinary = false;
  const policy::CompileResult result = policy::compilePolicy(source.value(), *ecu::Registry::builtin(), options);
  for (const auto& diagnostic : result.diagnostics) fuzz::consume(policy::toString(diagnostic));
  if (!result.ok()) return 0;

  // What the compiler produced, the gateway must be able to load.
  auto compiled = policy::CompiledPolicy::fromBundleBytes(result.bundle);
  if (!compiled) std::fprintf(stderr, "compiled bundle does not load: %s\n", compiled.error().message.c_str());
  fuzz::fuzzCheck(compiled.ok(), "a bundle compilePolicy produced loads");
  const auto file_bytes = policy::unsignedBundleFile(result.bundle);
  fuzz::fuzzCheck(policy::openBundleFile(file_bytes).ok(), "an unsigned bundle file of a compiled policy opens");
  return 0;
}
