#include "gateway/geo/region.hpp"

namespace cordon::geo {

Result<Region> Region::fromCollection(const FeatureCollection& collection) {
  if (collection.features.empty()) return Error{collection.source + ": a region needs at least one feature"};
  for (const Feature& f : collection.features) {
    if (f.bufferM != 0) {
      std::string message = collection.source;  // appended: GCC 12 -Wrestrict (bug 105329)
      message.append(": region feature \"").append(f.id).append("\" has buffer_m ").append(std::to_string(f.bufferM));
      return Error{message.append("; a region's outline must be drawn as meant, with buffer_m 0")};
    }
  }
  auto index = GeofenceIndex::build(fencesFrom(collection));
  if (!index) return Error{collection.source + ": " + index.error().message};
  return Region(std::move(index).value());
}

Result<Region> Region::load(const std::filesystem::path& file) {
  auto collection = loadFeatureCollection(file);
  if (!collection) return collection.error();
  return fromCollection(collection.value());
}

}  // namespace cordon::geo
