// parseFeatureCollection on arbitrary text; for a collection that parses, every ring of
// every feature is walked (what the geofence index and the region build on).
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "gateway/geo/geojson.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto collection = geo::parseFeatureCollection(fuzz::textOf(data, size), "fuzz.geojson");
  if (!collection) {
    fuzz::consume(collection.error().message);
    return 0;
  }
  for (const geo::Feature& feature : collection->features) {
    fuzz::fuzzCheck(!feature.id.empty(), "a parsed feature has an id");
    fuzz::consume(feature.bufferM);
    fuzz::consume(feature.area);
  }
  return 0;
}
