#include "gateway/policy/tags.hpp"

namespace cordon::policy {

std::string_view nameOf(Category category) {
  switch (category) {
    case Category::Ordinary: return "ordinary";
    case Category::Pi: return "pi";
    case Category::SensitivePi: return "sensitive_pi";
    case Category::Important: return "important";
  }
  return "important";  // unreachable for valid values; the most restrictive answer otherwise
}

std::string_view nameOf(Tag tag) { return wire::policy::EnumNameTag(tag); }

std::string toString(TagSet tags) {
  std::string out;
  for (auto value = static_cast<unsigned>(Tag::MIN); value <= static_cast<unsigned>(Tag::MAX); ++value) {
    const auto tag = static_cast<Tag>(value);
    if (!tags.has(tag)) continue;
    if (!out.empty()) out += '|';
    out += nameOf(tag);
  }
  return out;
}

}  // namespace cordon::policy
