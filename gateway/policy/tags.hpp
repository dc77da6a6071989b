#pragma once
// Tags and categories (RULES.md, "Categories and flags") as the hot path sees them:
// a field's tags are a 16-bit set, its primary category the most restrictive one.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy_generated.h"

namespace cordon::policy {

using Tag = wire::policy::Tag;

// Ordered from least to most restrictive, so that `std::max` picks the primary one.
enum class Category : std::uint8_t { Ordinary, Pi, SensitivePi, Important };

class TagSet {
 public:
  constexpr TagSet() = default;
  constexpr explicit TagSet(std::uint16_t bits) : bits_(bits) {}
  constexpr TagSet(std::initializer_list<Tag> tags) {
    for (Tag tag : tags) add(tag);
  }

  constexpr void add(Tag tag) { bits_ |= bitOf(tag); }
  constexpr void add(TagSet other) { bits_ |= other.bits_; }
  constexpr bool has(Tag tag) const { return (bits_ & bitOf(tag)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::uint16_t bits() const { return bits_; }
  // True when this set holds every tag of `other`.
  constexpr bool covers(TagSet other) const { return (bits_ & other.bits_) == other.bits_; }

  static constexpr std::uint16_t bitOf(Tag tag) { return static_cast<std::uint16_t>(1U << static_cast<unsigned>(tag)); }
  static constexpr TagSet importantKinds() {
    return TagSet{Tag::important_sensitive_area, Tag::important_economic_flow, Tag::important_charging_network,
                  Tag::important_exterior_imagery, Tag::important_remote_control_ota, Tag::important_mapping};
  }
  static constexpr TagSet categories() {
    TagSet set = importantKinds();
    set.add(Tag::ordinary);
    set.add(Tag::pi);
    set.add(Tag::sensitive_pi);
    return set;
  }
  constexpr TagSet operator&(TagSet other) const { return TagSet(static_cast<std::uint16_t>(bits_ & other.bits_)); }

  friend constexpr bool operator==(TagSet, TagSet) = default;

 private:
  std::uint16_t bits_ = 0;
};

// The most restrictive category in `tags`. A set without any category tag is a policy
// error caught at compile time; here it counts as Important so nothing slips through.
constexpr Category primaryCategory(TagSet tags) {
  if (!(tags & TagSet::importantKinds()).empty()) return Category::Important;
  if (tags.has(Tag::sensitive_pi)) return Category::SensitivePi;
  if (tags.has(Tag::pi)) return Category::Pi;
  if (tags.has(Tag::ordinary)) return Category::Ordinary;
  return Category::Important;
}

std::string_view nameOf(Category category);  // "important", "sensitive_pi", "pi", "ordinary"
std::string_view nameOf(Tag tag);            // as in policy JSON: "important_mapping"
// "sensitive_pi|geo", in tag order; "" for an empty set.
std::string toString(TagSet tags);

}  // namespace cordon::policy
