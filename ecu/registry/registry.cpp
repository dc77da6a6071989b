#include "ecu/registry/registry.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "ecu/registry/embedded_registry.hpp"
#include "flatbuffers/idl.h"

namespace cordon::ecu {
namespace {

struct TypeFacts {
  wire::Value wire;
  std::optional<IntegerRange> range;
  std::optional<DataType> element;
};

constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::uint64_t kI64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// One place for what each registry datatype means on the wire. No default: adding a
// DataType makes the compiler point here.
TypeFacts factsOf(DataType type) {
  switch (type) {
    case DataType::Boolean: return {wire::Value::BoolValue, std::nullopt, std::nullopt};
    case DataType::Int8: return {wire::Value::IntValue, IntegerRange{-128, 127}, std::nullopt};
    case DataType::Int16: return {wire::Value::IntValue, IntegerRange{-32768, 32767}, std::nullopt};
    case DataType::Int32: return {wire::Value::IntValue, IntegerRange{-2147483648LL, 2147483647ULL}, std::nullopt};
    case DataType::Int64: return {wire::Value::IntValue, IntegerRange{kI64Min, kI64Max}, std::nullopt};
    case DataType::UInt8: return {wire::Value::UIntValue, IntegerRange{0, 255}, std::nullopt};
    case DataType::UInt16: return {wire::Value::UIntValue, IntegerRange{0, 65535}, std::nullopt};
    case DataType::UInt32: return {wire::Value::UIntValue, IntegerRange{0, 4294967295ULL}, std::nullopt};
    case DataType::UInt64:
      return {wire::Value::UIntValue, IntegerRange{0, std::numeric_limits<std::uint64_t>::max()}, std::nullopt};
    case DataType::Float:
    case DataType::Double: return {wire::Value::DoubleValue, std::nullopt, std::nullopt};
    case DataType::String: return {wire::Value::StringValue, std::nullopt, std::nullopt};
    case DataType::BooleanArray: return {wire::Value::BoolArray, std::nullopt, DataType::Boolean};
    case DataType::Int8Array: return {wire::Value::IntArray, std::nullopt, DataType::Int8};
    case DataType::Int16Array: return {wire::Value::IntArray, std::nullopt, DataType::Int16};
    case DataType::Int32Array: return {wire::Value::IntArray, std::nullopt, DataType::Int32};
    case DataType::Int64Array: return {wire::Value::IntArray, std::nullopt, DataType::Int64};
    case DataType::UInt8Array: return {wire::Value::UIntArray, std::nullopt, DataType::UInt8};
    case DataType::UInt16Array: return {wire::Value::UIntArray, std::nullopt, DataType::UInt16};
    case DataType::UInt32Array: return {wire::Value::UIntArray, std::nullopt, DataType::UInt32};
    case DataType::UInt64Array: return {wire::Value::UIntArray, std::nullopt, DataType::UInt64};
    case DataType::FloatArray: return {wire::Value::DoubleArray, std::nullopt, DataType::Float};
    case DataType::DoubleArray: return {wire::Value::DoubleArray, std::nullopt, DataType::Double};
    case DataType::StringArray: return {wire::Value::StringArray, std::nullopt, DataType::String};
    case DataType::Bytes: return {wire::Value::BytesValue, std::nullopt, std::nullopt};
    case DataType::GeoPoint: return {wire::Value::GeoPoint, std::nullopt, std::nullopt};
    case DataType::Image: return {wire::Value::Image, std::nullopt, std::nullopt};
  }
  return {wire::Value::NONE, std::nullopt, std::nullopt};  // not a DataType: matches nothing
}

std::string readFile(const std::filesystem::path& file, bool& ok) {
  std::ifstream in(file, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

wire::Value wireKindOf(DataType type) {
  return factsOf(type).wire;
}
std::optional<IntegerRange> integerRangeOf(DataType type) {
  return factsOf(type).range;
}
std::optional<DataType> elementTypeOf(DataType type) {
  return factsOf(type).element;
}

std::string_view nameOf(DataType type) {
  const char* name = cordon::registry::EnumNameDataType(type);
  return name ? std::string_view(name) : std::string_view();
}

std::optional<DataType> dataTypeFromName(std::string_view name) {
  for (auto type : cordon::registry::EnumValuesDataType()) {
    if (nameOf(type) == name) return type;
  }
  return std::nullopt;
}

std::string toString(RegistryVersion version) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(version.hash));
  return std::to_string(version.count) + ":" + hash;
}

ChainState chainEntry(const ChainState& state, const SignalInfo& entry) {
  const std::uint8_t id[4] = {static_cast<std::uint8_t>(entry.id), static_cast<std::uint8_t>(entry.id >> 8),
                              static_cast<std::uint8_t>(entry.id >> 16), static_cast<std::uint8_t>(entry.id >> 24)};
  const std::uint8_t zero = 0;
  const auto type = static_cast<std::uint8_t>(entry.datatype);
  ChainState next{};
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, state.data(), state.size()) == 1 && EVP_DigestUpdate(ctx, id, 4) == 1 &&
                  EVP_DigestUpdate(ctx, entry.path.data(), entry.path.size()) == 1 &&
                  EVP_DigestUpdate(ctx, &zero, 1) == 1 && EVP_DigestUpdate(ctx, &type, 1) == 1 &&
                  EVP_DigestUpdate(ctx, entry.unit.data(), entry.unit.size()) == 1 &&
                  EVP_DigestUpdate(ctx, &zero, 1) == 1 && EVP_DigestFinal_ex(ctx, next.data(), &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || length != next.size()) std::abort();  // SHA-256 unavailable: nothing sane to do
  return next;
}

std::uint64_t versionHashOf(const ChainState& state) {
  std::uint64_t hash = 0;
  for (int i = 0; i < 8; ++i) hash = (hash << 8) | state[static_cast<std::size_t>(i)];
  return hash;
}

std::optional<std::uint32_t> Registry::idOf(std::string_view path) const {
  auto it = idsByPath_.find(path);
  if (it == idsByPath_.end()) return std::nullopt;
  return it->second;
}

Result<std::shared_ptr<const Registry>> Registry::fromVerifiedRoot(const cordon::registry::Registry& root) {
  std::shared_ptr<Registry> registry(new Registry());
  if (root.vss_version()) registry->vssVersion_ = root.vss_version()->str();
  if (root.vss_source()) registry->vssSource_ = root.vss_source()->str();
  const auto* entries = root.signals();
  const std::size_t count = entries ? entries->size() : 0;
  registry->signals_.reserve(count);
  registry->prefixHashes_.reserve(count + 1);
  ChainState state{};
  registry->prefixHashes_.push_back(versionHashOf(state));
  for (std::size_t i = 0; i < count; ++i) {
    const auto* entry = entries->Get(static_cast<flatbuffers::uoffset_t>(i));
    SignalInfo info{entry->id(), entry->path()->str(), entry->datatype(), entry->unit() ? entry->unit()->str() : ""};
    if (info.id != i + 1) {
      return Error{"registry entry " + std::to_string(i + 1) + " (" + info.path + ") has id " +
                   std::to_string(info.id) + "; ids must be 1-based positions"};
    }
    if (nameOf(info.datatype).empty()) {
      return Error{"registry entry " + info.path + " has an unknown datatype " +
                   std::to_string(static_cast<int>(info.datatype))};
    }
    if (info.path.empty()) return Error{"registry entry " + std::to_string(info.id) + " has an empty path"};
    state = chainEntry(state, info);
    registry->prefixHashes_.push_back(versionHashOf(state));
    registry->signals_.push_back(std::move(info));
  }
  // Views into signals_ are stable now that the vector no longer grows.
  for (const auto& info : registry->signals_) {
    if (!registry->idsByPath_.emplace(info.path, info.id).second) {
      return Error{"registry path " + info.path + " appears twice (ids " +
                   std::to_string(registry->idsByPath_.at(info.path)) + " and " + std::to_string(info.id) + ")"};
    }
  }
  return std::shared_ptr<const Registry>(std::move(registry));
}

Result<std::shared_ptr<const Registry>> Registry::fromBinary(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8 || !cordon::registry::RegistryBufferHasIdentifier(bytes.data())) {
    return Error{"not a binary registry (missing file identifier CREG)"};
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!cordon::registry::VerifyRegistryBuffer(verifier)) return Error{"binary registry failed verification"};
  return fromVerifiedRoot(*cordon::registry::GetRegistry(bytes.data()));
}

Result<std::shared_ptr<const Registry>> Registry::fromJson(std::string_view json, std::string_view name) {
  flatbuffers::IDLOptions options;
  options.strict_json = true;
  flatbuffers::Parser parser(options);
  const std::string schema(embedded::registrySchema());
  if (!parser.Parse(schema.c_str())) return Error{"internal: registry schema does not parse: " + parser.error_};
  const std::string text(json);
  if (!parser.ParseJson(text.c_str())) {
    // flatbuffers reports "<line>: <col>: error: ..." without the file name.
    return Error{std::string(name) + ":" + parser.error_};
  }
  return fromBinary({parser.builder_.GetBufferPointer(), parser.builder_.GetSize()});
}

Result<std::shared_ptr<const Registry>> Registry::fromJsonFile(const std::filesystem::path& file) {
  bool ok = false;
  const std::string text = readFile(file, ok);
  if (!ok) return Error{file.string() + ": cannot read the registry file"};
  return fromJson(text, file.string());
}

std::shared_ptr<const Registry> Registry::builtin() {
  static const std::shared_ptr<const Registry> registry = [] {
    auto loaded = fromBinary(embedded::registryBinary());
    if (!loaded) std::abort();  // the build verified this registry; failing here is a broken build
    return std::move(loaded).value();
  }();
  return registry;
}

}  // namespace cordon::ecu
