#pragma once
// The signal registry: path <-> compact id, datatype and unit of every signal Cordon
// knows (schemas/signals.json, docs/registry.md).
//
// Contract: a Registry is immutable after loading and safe to share between threads.
// Ids are 1-based positions; 0 is never a valid id. The version is (entry count,
// first 8 bytes of the chained SHA-256 over the entries), so a reader can check in
// O(1) whether the registry a frame was built against is a prefix of its own.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ecu/common/result.hpp"
#include "registry_generated.h"
#include "telemetry_generated.h"

namespace cordon::ecu {

using DataType = cordon::registry::DataType;

struct RegistryVersion {
  std::uint32_t count = 0;
  std::uint64_t hash = 0;
  friend bool operator==(const RegistryVersion&, const RegistryVersion&) = default;
};

std::string toString(RegistryVersion version);  // "1412:3f2a9c0d11e4b7a5"

struct SignalInfo {
  std::uint32_t id = 0;
  std::string path;
  DataType datatype = DataType::Boolean;
  std::string unit;
};

// The union member a value of `type` travels as on the wire (telemetry.fbs).
wire::Value wireKindOf(DataType type);
// For integer types the inclusive range the registry allows; others: nullopt.
struct IntegerRange {
  std::int64_t min;
  std::uint64_t max;
};
std::optional<IntegerRange> integerRangeOf(DataType type);
// The element type of an array datatype (Int8Array -> Int8); nullopt for scalars.
std::optional<DataType> elementTypeOf(DataType type);
std::string_view nameOf(DataType type);
std::optional<DataType> dataTypeFromName(std::string_view name);  // "UInt8", "StringArray", ...

class Registry {
 public:
  // The registry this build embeds (schemas/signals.json at build time).
  static std::shared_ptr<const Registry> builtin();
  // Parses registry JSON (the signals.json format); errors carry the line number.
  static Result<std::shared_ptr<const Registry>> fromJson(std::string_view json, std::string_view name);
  static Result<std::shared_ptr<const Registry>> fromJsonFile(const std::filesystem::path& file);
  // A binary registry (.creg), verified before use.
  static Result<std::shared_ptr<const Registry>> fromBinary(std::span<const std::uint8_t> bytes);

  std::size_t size() const { return signals_.size(); }
  std::span<const SignalInfo> signals() const { return signals_; }
  // nullptr for 0 or an id beyond this registry.
  const SignalInfo* find(std::uint32_t id) const {
    return id == 0 || id > signals_.size() ? nullptr : &signals_[id - 1];
  }
  std::optional<std::uint32_t> idOf(std::string_view path) const;

  RegistryVersion version() const { return versionAt(static_cast<std::uint32_t>(signals_.size())); }
  // The version of this registry's first `count` entries (count <= size()).
  RegistryVersion versionAt(std::uint32_t count) const { return {count, prefixHashes_.at(count)}; }
  // True when `other` names a prefix of this registry (same entries, same order).
  bool hasPrefix(RegistryVersion other) const {
    return other.count <= signals_.size() && prefixHashes_[other.count] == other.hash;
  }

  const std::string& vssVersion() const { return vssVersion_; }
  const std::string& vssSource() const { return vssSource_; }

 private:
  Registry() = default;
  static Result<std::shared_ptr<const Registry>> fromVerifiedRoot(const cordon::registry::Registry& root);

  std::vector<SignalInfo> signals_;
  std::vector<std::uint64_t> prefixHashes_;                        // [n] = hash of the first n entries
  std::unordered_map<std::string_view, std::uint32_t> idsByPath_;  // views into signals_
  std::string vssVersion_;
  std::string vssSource_;
};

// The chained hash step (docs/registry.md gives the exact bytes): state' =
// SHA-256(state || u32le(id) || path || 0x00 || u8(datatype) || unit || 0x00).
using ChainState = std::array<std::uint8_t, 32>;
ChainState chainEntry(const ChainState& state, const SignalInfo& entry);
std::uint64_t versionHashOf(const ChainState& state);

}  // namespace cordon::ecu
