#include "sim/geo/geojson.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

namespace cordon::sim {
namespace {

namespace json = boost::json;

Result<json::object> readCollection(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot read"};
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = json::parse(text.str(), ec);
  if (ec) return Error{file.string() + ": not JSON: " + ec.message()};
  if (!value.is_object() || value.as_object().if_contains("type") == nullptr ||
      value.at("type") != "FeatureCollection") {
    return Error{file.string() + ": not a GeoJSON FeatureCollection"};
  }
  const auto* datum = value.as_object().if_contains("datum");
  if (!datum || *datum != "WGS84") return Error{file.string() + ": \"datum\" must be \"WGS84\""};
  return value.as_object();
}

Result<LatLon> position(const json::value& v, const std::string& where) {
  if (!v.is_array() || v.as_array().size() < 2) return Error{where + ": a position is [longitude, latitude]"};
  const auto& a = v.as_array();
  const double lon = a[0].to_number<double>();
  const double lat = a[1].to_number<double>();
  if (std::abs(lat) > 90 || std::abs(lon) > 180) return Error{where + ": position outside WGS-84 range"};
  return LatLon{lat, lon};
}

std::string stringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

double numberOf(const json::object& o, std::string_view key, double fallback) {
  const auto* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<double>() : fallback;
}

}  // namespace

Result<std::vector<RouteSpec>> loadRoutes(const std::filesystem::path& file) {
  auto collection = readCollection(file);
  if (!collection) return collection.error();
  std::vector<RouteSpec> routes;
  try {
    for (const auto& feature : collection->at("features").as_array()) {
      const auto& props = feature.at("properties").as_object();
      RouteSpec route;
      route.id = stringOf(props, "id");
      route.name = stringOf(props, "name");
      const std::string where = file.string() + ": route " + route.id;
      if (feature.at("geometry").at("type") != "LineString") return Error{where + ": geometry must be a LineString"};
      for (const auto& p : feature.at("geometry").at("coordinates").as_array()) {
        auto point = position(p, where);
        if (!point) return point.error();
        route.points.push_back(point.value());
      }
      for (const auto& s : props.at("speeds_kmh").as_array()) route.speedsKmh.push_back(s.to_number<double>());
      for (const auto& t : props.at("tunnels").as_array()) route.tunnels.push_back(t.to_number<std::size_t>());
      route.stopsPerKm = numberOf(props, "stops_per_km", 0);
      const auto* loop = props.if_contains("loop");
      route.loop = loop && loop->is_bool() && loop->as_bool();
      if (route.points.size() < 2) return Error{where + ": needs at least two points"};
      if (route.speedsKmh.size() != route.points.size() - 1) {
        return Error{where + ": speeds_kmh needs one entry per segment (" + std::to_string(route.points.size() - 1) +
                     ")"};
      }
      for (double s : route.speedsKmh) {
        if (s <= 0) return Error{where + ": speeds must be positive"};
      }
      routes.push_back(std::move(route));
    }
  } catch (const std::exception& e) {
    return Error{file.string() + ": malformed route collection: " + e.what()};
  }
  return routes;
}

Result<std::vector<Geofence>> loadGeofences(const std::filesystem::path& file) {
  auto collection = readCollection(file);
  if (!collection) return collection.error();
  std::vector<Geofence> fences;
  try {
    for (const auto& feature : collection->at("features").as_array()) {
      const auto& props = feature.at("properties").as_object();
      Geofence fence;
      fence.id = stringOf(props, "id");
      fence.name = stringOf(props, "name");
      fence.kind = stringOf(props, "kind");
      fence.bufferM = numberOf(props, "buffer_m", 0);
      const std::string where = file.string() + ": area " + fence.id;
      if (feature.at("geometry").at("type") != "Polygon") return Error{where + ": geometry must be a Polygon"};
      // The outer ring only: sensitive areas have no holes.
      for (const auto& p : feature.at("geometry").at("coordinates").as_array().at(0).as_array()) {
        auto point = position(p, where);
        if (!point) return point.error();
        fence.polygon.ring.push_back(point.value());
      }
      if (fence.polygon.ring.size() < 3) return Error{where + ": a polygon needs at least three points"};
      fences.push_back(std::move(fence));
    }
  } catch (const std::exception& e) {
    return Error{file.string() + ": malformed area collection: " + e.what()};
  }
  return fences;
}

}  // namespace cordon::sim
