#include "gateway/geo/geojson.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <variant>

namespace cordon::geo {
namespace {

namespace json = boost::json;

// Joins pieces by appending. GCC 12 misreports `"literal" + std::string` as an overlapping
// memcpy in optimised builds (-Wrestrict, GCC bug 105329), which -Werror would turn fatal.
std::string cat(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (std::string_view piece : pieces) out += piece;
  return out;
}

std::string formatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// ---- where in the text: byte offset -> line:column, JSON path -> byte offset ----------

std::string lineColumn(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1;
  std::size_t lineStart = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return cat({std::to_string(line), ":", std::to_string(offset - lineStart + 1)});
}

using PathStep = std::variant<std::string_view, std::size_t>;  // object key or array index

// Finds a value's offset by walking the (already validated) text along a JSON path.
// Boost.JSON's DOM keeps no positions, and this runs only when reporting an error.
class Locator {
 public:
  explicit Locator(std::string_view text) : text_(text) {}

  std::size_t find(const std::vector<PathStep>& path) const {
    std::size_t at = skipSpace(0);
    for (const PathStep& step : path) {
      const std::size_t next = std::holds_alternative<std::size_t>(step) ? element(at, std::get<std::size_t>(step))
                                                                         : member(at, std::get<std::string_view>(step));
      if (next == std::string_view::npos) return at;  // best effort: the deepest value found
      at = next;
    }
    return at;
  }

 private:
  std::size_t skipSpace(std::size_t i) const {
    while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) ++i;
    return i;
  }

  std::size_t skipString(std::size_t i) const {  // i at the opening quote
    for (++i; i < text_.size() && text_[i] != '"'; ++i) {
      if (text_[i] == '\\') ++i;
    }
    return i + 1;
  }

  std::size_t skipValue(std::size_t i) const {
    if (i >= text_.size()) return i;
    if (text_[i] == '"') return skipString(i);
    if (text_[i] == '{' || text_[i] == '[') {
      int depth = 0;
      while (i < text_.size()) {
        const char c = text_[i];
        if (c == '"') {
          i = skipString(i);
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if ((c == '}' || c == ']') && --depth == 0) return i + 1;
        ++i;
      }
      return i;
    }
    while (i < text_.size() && std::string_view(",}] \t\r\n").find(text_[i]) == std::string_view::npos) ++i;
    return i;
  }

  // The value of the last member named `key` (Boost.JSON keeps the last of duplicates).
  std::size_t member(std::size_t at, std::string_view key) const {
    if (at >= text_.size() || text_[at] != '{') return std::string_view::npos;
    std::size_t found = std::string_view::npos;
    std::size_t i = skipSpace(at + 1);
    while (i < text_.size() && text_[i] == '"') {
      const std::size_t keyEnd = skipString(i);
      const std::string_view name = text_.substr(i + 1, keyEnd - i - 2);
      const std::size_t value = skipSpace(skipSpace(keyEnd) + 1);  // past the ':'
      if (name == key) found = value;
      i = skipSpace(skipValue(value));
      if (i < text_.size() && text_[i] == ',') i = skipSpace(i + 1);
    }
    return found;
  }

  std::size_t element(std::size_t at, std::size_t index) const {
    if (at >= text_.size() || text_[at] != '[') return std::string_view::npos;
    std::size_t i = skipSpace(at + 1);
    for (std::size_t k = 0; i < text_.size() && text_[i] != ']'; ++k) {
      if (k == index) return i;
      i = skipSpace(skipValue(i));
      if (i < text_.size() && text_[i] == ',') i = skipSpace(i + 1);
    }
    return std::string_view::npos;
  }

  std::string_view text_;
};

// ---- semantic checks --------------------------------------------------------------------

// Walks the parsed document keeping the JSON path of the value being checked, so that an
// error can name it and find its line.
class Reader {
 public:
  Reader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Result<FeatureCollection> read(const json::value& root) {
    FeatureCollection out;
    out.source = std::string(source_);
    if (!root.is_object()) return fail("the top level must be a GeoJSON FeatureCollection object");
    const json::object& top = root.as_object();
    const json::value* type = top.if_contains("type");
    if (!type || *type != "FeatureCollection") return failAt("type", "\"type\" must be \"FeatureCollection\"");
    if (auto datum = checkDatum(top); !datum) return Error{datum.message()};
    if (const json::value* comment = top.if_contains("comment"); comment && comment->is_string()) {
      out.comment = std::string(comment->as_string());
    }
    const json::value* features = top.if_contains("features");
    if (!features || !features->is_array()) return failAt("features", "\"features\" must be an array");
    path_.emplace_back(std::string_view("features"));
    const json::array& list = features->as_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      path_.emplace_back(i);
      featureIndex_ = i;
      featureId_.clear();
      auto feature = readFeature(list[i]);
      if (!feature) return feature.error();
      out.features.push_back(std::move(feature).value());
      path_.pop_back();
    }
    return out;
  }

 private:
  // Keeps path_ in step with the recursion.
  class Step {
   public:
    Step(std::vector<PathStep>& path, PathStep step) : path_(path) { path_.push_back(step); }
    ~Step() { path_.pop_back(); }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;

   private:
    std::vector<PathStep>& path_;
  };

  Status checkDatum(const json::object& top) {
    const json::value* datum = top.if_contains("datum");
    if (!datum) {
      return fail(
          "missing \"datum\": Cordon requires \"datum\": \"WGS84\" at the top level, so that coordinates in "
          "another datum (GCJ-02, BD-09) are never misread");
    }
    if (*datum != "WGS84") {
      const std::string shown = datum->is_string() ? cat({"\"", datum->as_string(), "\""}) : json::serialize(*datum);
      return failAt("datum",
                    cat({"\"datum\" is ", shown, ", but only \"WGS84\" is accepted (convert the coordinates first)"}));
    }
    return Status::success();
  }

  Result<Feature> readFeature(const json::value& v) {
    if (!v.is_object()) return fail("a feature must be an object");
    const json::object& feature = v.as_object();
    Feature out;
    if (auto props = readProperties(feature, out); !props) return Error{props.message()};
    const json::value* geometry = feature.if_contains("geometry");
    if (!geometry || !geometry->is_object()) return failAt("geometry", "\"geometry\" must be an object");
    Step step(path_, std::string_view("geometry"));
    auto area = readGeometry(geometry->as_object());
    if (!area) return area.error();
    out.area = std::move(area).value();
    return out;
  }

  Status readProperties(const json::object& feature, Feature& out) {
    const json::value* props = feature.if_contains("properties");
    if (!props || !props->is_object()) return failAt("properties", "\"properties\" must be an object");
    Step step(path_, std::string_view("properties"));
    const json::object& p = props->as_object();
    const json::value* id = p.if_contains("id");
    if (!id || !id->is_string() || id->as_string().empty()) return failAt("id", "\"id\" must be a non-empty string");
    out.id = std::string(id->as_string());
    featureId_ = out.id;
    if (auto [it, fresh] = firstIndexOfId_.emplace(out.id, featureIndex_.value_or(0)); !fresh) {
      return failAt("id",
                    cat({"duplicate id \"", out.id, "\" (first used by features[", std::to_string(it->second), "])"}));
    }
    if (auto s = optionalString(p, "name", out.name); !s) return s;
    if (auto s = optionalString(p, "kind", out.kind); !s) return s;
    if (const json::value* buffer = p.if_contains("buffer_m")) {
      if (!buffer->is_number()) return failAt("buffer_m", "\"buffer_m\" must be a number of metres");
      out.bufferM = buffer->to_number<double>();
      if (!std::isfinite(out.bufferM) || out.bufferM < 0) {
        return failAt("buffer_m", cat({"\"buffer_m\" must be finite and >= 0, not ", formatNumber(out.bufferM)}));
      }
    }
    return Status::success();
  }

  Status optionalString(const json::object& props, std::string_view key, std::string& out) {
    const json::value* v = props.if_contains(key);
    if (!v) return Status::success();
    if (!v->is_string()) return failAt(key, cat({"\"", key, "\" must be a string"}));
    out = std::string(v->as_string());
    return Status::success();
  }

  Result<MultiPolygon> readGeometry(const json::object& geometry) {
    const json::value* type = geometry.if_contains("type");
    const json::value* coordinates = geometry.if_contains("coordinates");
    const bool polygon = type && *type == "Polygon";
    if (!polygon && !(type && *type == "MultiPolygon")) {
      const std::string shown = type ? json::serialize(*type) : "missing";
      return failAt("type", cat({"geometry type is ", shown, "; only \"Polygon\" and \"MultiPolygon\" are supported"}));
    }
    if (!coordinates || !coordinates->is_array()) return failAt("coordinates", "\"coordinates\" must be an array");
    Step step(path_, std::string_view("coordinates"));
    MultiPolygon out;
    if (polygon) {
      auto p = readPolygon(coordinates->as_array());
      if (!p) return p.error();
      out.polygons.push_back(std::move(p).value());
      return out;
    }
    const json::array& list = coordinates->as_array();
    if (list.empty()) return fail("a MultiPolygon needs at least one polygon");
    for (std::size_t i = 0; i < list.size(); ++i) {
      Step element(path_, i);
      if (!list[i].is_array()) return fail("a polygon must be an array of rings");
      auto p = readPolygon(list[i].as_array());
      if (!p) return p.error();
      out.polygons.push_back(std::move(p).value());
    }
    return out;
  }

  Result<Polygon> readPolygon(const json::array& rings) {
    if (rings.empty()) return fail("a polygon needs an outer ring");
    Polygon out;
    for (std::size_t i = 0; i < rings.size(); ++i) {
      Step element(path_, i);
      auto ring = readRing(rings[i]);
      if (!ring) return ring.error();
      (i == 0 ? out.outer : out.holes.emplace_back()) = std::move(ring).value();
    }
    return out;
  }

  Result<Ring> readRing(const json::value& v) {
    if (!v.is_array()) return fail("a ring must be an array of positions");
    const json::array& positions = v.as_array();
    if (positions.size() < 4) {
      return fail(cat(
          {"a ring needs at least 4 positions (first repeated at the end), not ", std::to_string(positions.size())}));
    }
    Ring out;
    out.reserve(positions.size());
    for (std::size_t i = 0; i < positions.size(); ++i) {
      Step element(path_, i);
      auto p = readPosition(positions[i]);
      if (!p) return p.error();
      out.push_back(p.value());
    }
    if (out.front().lat != out.back().lat || out.front().lon != out.back().lon) {
      return fail("ring is not closed: its last position must equal its first (RFC 7946 3.1.6)");
    }
    const BoundingBox box = boundingBox(out);
    if (box.maxLon - box.minLon >= 180) {
      return fail("ring spans 180 degrees of longitude or more; split it at the antimeridian (RFC 7946 3.1.9)");
    }
    return out;
  }

  Result<LatLon> readPosition(const json::value& v) {
    if (!v.is_array() || v.as_array().size() < 2 || v.as_array().size() > 3) {
      return fail("a position is [longitude, latitude] or [longitude, latitude, altitude]");
    }
    const json::array& a = v.as_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number()) return fail("position elements must be numbers");
    }
    const double lon = a[0].to_number<double>();
    const double lat = a[1].to_number<double>();
    if (!std::isfinite(lon) || lon < -180 || lon > 180) {
      return fail(
          cat({"longitude ", formatNumber(lon), " is outside [-180, 180] (positions are [longitude, latitude])"}));
    }
    if (!std::isfinite(lat) || lat < -90 || lat > 90) {
      return fail(cat({"latitude ", formatNumber(lat), " is outside [-90, 90] (positions are [longitude, latitude])"}));
    }
    return LatLon{lat, lon};
  }

  // An error about the value at the current path.
  Error fail(const std::string& message) const {
    std::string where;
    if (featureIndex_) {
      where = featureId_.empty()
                  ? cat({"features[", std::to_string(*featureIndex_), "]: "})
                  : cat({"feature \"", featureId_, "\" (features[", std::to_string(*featureIndex_), "]): "});
    }
    const std::string path = pathText();
    const std::size_t offset = Locator(text_).find(path_);
    return Error{cat({source_, ":", lineColumn(text_, offset), ": ", where, path, path.empty() ? "" : ": ", message})};
  }

  // An error about the member `key` of the current object.
  Error failAt(std::string_view key, const std::string& message) {
    Step step(path_, key);
    return fail(message);
  }

  std::string pathText() const {
    std::string out;
    for (const PathStep& step : path_) {
      if (const auto* index = std::get_if<std::size_t>(&step)) {
        out += cat({"[", std::to_string(*index), "]"});
      } else {
        if (!out.empty()) out += ".";
        out += std::get<std::string_view>(step);
      }
    }
    return out;
  }

  std::string_view text_;
  std::string_view source_;
  std::vector<PathStep> path_;
  std::optional<std::size_t> featureIndex_;
  std::string featureId_;
  std::unordered_map<std::string, std::size_t> firstIndexOfId_;
};

// Parses with a stream parser because it reports how far it got: the offset of the error.
Result<json::value> parseJson(std::string_view text, std::string_view source) {
  json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) {
    parser.finish(ec);
    if (ec) consumed = text.size();  // incomplete: the text ended too early
  }
  if (ec) {
    // For "extra data" the parser stops before the whitespace that precedes it.
    while (consumed < text.size() && std::isspace(static_cast<unsigned char>(text[consumed]))) ++consumed;
    return Error{cat({source, ":", lineColumn(text, consumed), ": not valid JSON: ", ec.message()})};
  }
  return parser.release();
}

}  // namespace

Result<FeatureCollection> parseFeatureCollection(std::string_view text, std::string_view source) {
  try {
    auto root = parseJson(text, source);
    if (!root) return root.error();
    return Reader(text, source).read(root.value());
  } catch (const std::exception& e) {  // allocation failures; nothing else here throws
    return Error{cat({source, ": cannot load: ", e.what()})};
  }
}

Result<FeatureCollection> loadFeatureCollection(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error{file.string() + ": cannot read"};
  return parseFeatureCollection(text.str(), file.string());
}

}  // namespace cordon::geo
