#pragma once
// Parses JSON into a boost::json::value with every number read exactly.
//
// Why not boost::json::parse: Boost.JSON 1.81 reads doubles to within an ulp or so, not
// exactly (about one value in five of random doubles comes back different; exact
// parsing arrived in 1.83). Tests that compare doubles bit for bit (JSON rendering,
// ground truth for the leak checker) read numbers with std::from_chars instead.
//
// Contract: pure; nullopt on invalid JSON (including invalid UTF-8), with the reason in
// `error` when given.
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace cordon::test {

std::optional<boost::json::value> parseJsonExact(std::string_view text, std::string* error = nullptr);

}  // namespace cordon::test
