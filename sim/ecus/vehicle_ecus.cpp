// The emulated ECUs of cordon-sim. Rates (at --rate 1) and signals are listed in
// docs/simulator.md; keep the two in step.
#include <array>
#include <cmath>
#include <numbers>

#include "sim/ecus/ecu_model.hpp"

namespace cordon::sim {
namespace {

using ecu::FrameBuilder;

// Resolves signal paths once, at construction; a missing path is reported by fill().
class Signals {
 public:
  explicit Signals(const ecu::Registry& registry) : registry_(registry) {}
  std::uint32_t operator()(std::string_view path) {
    auto id = registry_.idOf(path);
    if (!id && missing_.empty()) missing_ = std::string(path);
    return id.value_or(0);
  }
  Status check() const { return missing_.empty() ? Status() : Status(Error{missing_ + " is not in the registry"}); }

 private:
  const ecu::Registry& registry_;
  std::string missing_;
};

// Runs adds in order and stops at the first error.
#define CORDON_TRY(expr)                  \
  do {                                    \
    if (auto s_ = (expr); !s_) return s_; \
  } while (0)

class Telematics final : public EcuModel {
 public:
  explicit Telematics(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "telematics"; }
  double periodS() const override { return 0.1; }  // GNSS at 10 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    ++frames_;
    if (w.gnssFix) {
      // Receiver noise: about 2 m horizontally.
      const double noiseLat = rng.uniform(-1.5e-5, 1.5e-5);
      const double noiseLon = rng.uniform(-1.5e-5, 1.5e-5);
      const double lat = w.motion.position.lat + noiseLat;
      const double lon = w.motion.position.lon + noiseLon;
      const double alt = 45.0 + rng.uniform(-1, 1);
      const auto accuracy = static_cast<float>(rng.uniform(1.5, 4.0));
      CORDON_TRY(f.addDouble(lat_, lat));
      CORDON_TRY(f.addDouble(lon_, lon));
      CORDON_TRY(f.addDouble(alt_, alt));
      CORDON_TRY(f.addDouble(heading_, w.motion.headingDeg));
      CORDON_TRY(f.addDouble(hAcc_, accuracy));
      CORDON_TRY(f.addGeoPoint(geo_, {lat, lon, alt, accuracy, wire::GeoDatum::WGS84}));
    } else {
      CORDON_TRY(f.addString(fixType_, "NONE"));
    }
    CORDON_TRY(f.addDouble(speed_, w.motion.speedMps * 3.6));
    if (frames_ % 100 == 1) {  // identity every 10 s
      CORDON_TRY(f.addString(vin_, w.vin));
      CORDON_TRY(f.addString(plate_, w.plate));
      CORDON_TRY(f.addString(imei_, "86" + w.vin.substr(w.vin.size() - 13)));
    }
    return {};
  }

 private:
  Signals ids_;
  std::uint32_t lat_ = ids_("Vehicle.CurrentLocation.Latitude");
  std::uint32_t lon_ = ids_("Vehicle.CurrentLocation.Longitude");
  std::uint32_t alt_ = ids_("Vehicle.CurrentLocation.Altitude");
  std::uint32_t heading_ = ids_("Vehicle.CurrentLocation.Heading");
  std::uint32_t hAcc_ = ids_("Vehicle.CurrentLocation.HorizontalAccuracy");
  std::uint32_t fixType_ = ids_("Vehicle.CurrentLocation.GNSSReceiver.FixType");
  std::uint32_t geo_ = ids_("Cordon.CurrentLocation.GeoPoint");
  std::uint32_t speed_ = ids_("Vehicle.Speed");
  std::uint32_t vin_ = ids_("Vehicle.VehicleIdentification.VIN");
  std::uint32_t plate_ = ids_("Vehicle.VehicleIdentification.LicensePlate");
  std::uint32_t imei_ = ids_("Cordon.Connectivity.IMEI");
  std::uint64_t frames_ = 0;
};

class Powertrain final : public EcuModel {
 public:
  explicit Powertrain(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "powertrain"; }
  double periodS() const override { return 1.0; }  // BMS at 1 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    const double current = w.charging ? -120.0 + rng.uniform(-2, 2) : 8.0 + w.motion.speedMps * 4 + rng.uniform(-3, 3);
    const double voltage = 360.0 + w.socPercent * 0.6 + rng.uniform(-0.5, 0.5);
    CORDON_TRY(f.addDouble(soc_, w.socPercent));
    CORDON_TRY(f.addDouble(voltage_, voltage));
    CORDON_TRY(f.addDouble(current_, current));
    for (std::size_t i = 0; i < cells_.size(); ++i) cells_[i] = 27.0 + (w.charging ? 6.0 : 0.0) + rng.uniform(-1, 1);
    CORDON_TRY(f.addDoubleArray(cellTemps_, cells_));
    CORDON_TRY(f.addBool(isCharging_, w.charging));
    if (w.charging) {
      CORDON_TRY(f.addString(chargerId_, w.session.chargerId));
      CORDON_TRY(f.addString(operator_, w.session.operatorName));
      CORDON_TRY(f.addGeoPoint(chargerAt_, {w.session.location.lat, w.session.location.lon, 4.0, 3.0f}));
      CORDON_TRY(f.addInt(sessionStart_, w.session.startNs));
    }
    return {};
  }

 private:
  Signals ids_;
  std::uint32_t soc_ = ids_("Vehicle.Powertrain.TractionBattery.StateOfCharge.Current");
  std::uint32_t voltage_ = ids_("Vehicle.Powertrain.TractionBattery.CurrentVoltage");
  std::uint32_t current_ = ids_("Vehicle.Powertrain.TractionBattery.CurrentCurrent");
  std::uint32_t cellTemps_ = ids_("Vehicle.Powertrain.TractionBattery.Temperature.CellTemperature");
  std::uint32_t isCharging_ = ids_("Vehicle.Powertrain.TractionBattery.Charging.IsCharging");
  std::uint32_t chargerId_ = ids_("Cordon.Charging.Session.ChargerId");
  std::uint32_t operator_ = ids_("Cordon.Charging.Session.Operator");
  std::uint32_t chargerAt_ = ids_("Cordon.Charging.Session.Location");
  std::uint32_t sessionStart_ = ids_("Cordon.Charging.Session.StartTime");
  std::array<double, 12> cells_{};
};

class Chassis final : public EcuModel {
 public:
  explicit Chassis(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "chassis"; }
  double periodS() const override { return 0.1; }  // 10 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    const double kmh = w.motion.speedMps * 3.6;
    for (auto id : wheels_) CORDON_TRY(f.addDouble(id, kmh * rng.uniform(0.995, 1.005)));
    CORDON_TRY(f.addDouble(accel_, w.motion.accelMps2));
    const double braking = w.motion.accelMps2 < -0.3 ? std::min(100.0, -w.motion.accelMps2 * 35) : 0;
    CORDON_TRY(f.addUInt(brake_, static_cast<std::uint64_t>(braking)));
    CORDON_TRY(f.addInt(steering_, static_cast<std::int64_t>(rng.uniform(-8, 8))));
    return {};
  }

 private:
  Signals ids_;
  std::array<std::uint32_t, 4> wheels_{
      ids_("Vehicle.Chassis.Axle.Row1.Wheel.Left.Speed"), ids_("Vehicle.Chassis.Axle.Row1.Wheel.Right.Speed"),
      ids_("Vehicle.Chassis.Axle.Row2.Wheel.Left.Speed"), ids_("Vehicle.Chassis.Axle.Row2.Wheel.Right.Speed")};
  std::uint32_t accel_ = ids_("Vehicle.Acceleration.Longitudinal");
  std::uint32_t brake_ = ids_("Vehicle.Chassis.Brake.PedalPosition");
  std::uint32_t steering_ = ids_("Vehicle.Chassis.SteeringWheel.Angle");
};

class Body final : public EcuModel {
 public:
  explicit Body(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "body"; }
  double periodS() const override { return 1.0; }  // 1 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    ++frames_;
    for (auto id : tyres_) CORDON_TRY(f.addUInt(id, static_cast<std::uint64_t>(rng.uniform(235, 250))));
    CORDON_TRY(f.addBool(door_, w.motion.speedMps == 0 && w.charging));
    CORDON_TRY(f.addBool(lowBeam_, true));
    CORDON_TRY(f.addUInt(odometer_, 18'000'000u + static_cast<std::uint64_t>(w.motion.odometerM)));
    if (frames_ % 10 == 1) {  // diagnostics every 10 s
      dtcs_.clear();
      if (rng.chance(0.3)) dtcs_.emplace_back("P0A80");
      if (rng.chance(0.1)) dtcs_.emplace_back("U0100");
      CORDON_TRY(f.addStringArray(dtcList_, dtcs_));
    }
    return {};
  }

 private:
  Signals ids_;
  std::array<std::uint32_t, 4> tyres_{ids_("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure"),
                                      ids_("Vehicle.Chassis.Axle.Row1.Wheel.Right.Tire.Pressure"),
                                      ids_("Vehicle.Chassis.Axle.Row2.Wheel.Left.Tire.Pressure"),
                                      ids_("Vehicle.Chassis.Axle.Row2.Wheel.Right.Tire.Pressure")};
  std::uint32_t door_ = ids_("Vehicle.Cabin.Door.Row1.DriverSide.IsOpen");
  std::uint32_t lowBeam_ = ids_("Vehicle.Body.Lights.Beam.Low.IsOn");
  std::uint32_t odometer_ = ids_("Vehicle.TraveledDistance");
  std::uint32_t dtcList_ = ids_("Vehicle.Diagnostics.DTCList");
  std::vector<std::string> dtcs_;
  std::uint64_t frames_ = 0;
};

// 160x120 grey frames; pedestrians' faces and other vehicles' plates are annotated
// regions, some above and some below RULES.md's 32 px (face) and 16 px (plate) limits.
class AdasCamera final : public EcuModel {
 public:
  static constexpr std::uint16_t kWidth = 160;
  static constexpr std::uint16_t kHeight = 120;
  explicit AdasCamera(const ecu::Registry& r) : ids_(r), pixels_(std::size_t{kWidth} * kHeight) {}
  std::string_view source() const override { return "adas-camera"; }
  double periodS() const override { return 0.5; }  // 2 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    regions_.clear();
    objects_.clear();
    const auto people = static_cast<int>(rng.below(1 + static_cast<std::uint64_t>(w.pedestrianDensity * 5)));
    for (int i = 0; i < people; ++i) {
      const auto side = static_cast<std::uint16_t>(rng.uniform(12, 48));  // both sides of 32 px
      addRegion(rng, side, side, wire::RegionKind::Face);
      objects_.push_back("pedestrian;" + std::to_string(static_cast<int>(rng.uniform(4, 40))) + "m");
    }
    const auto cars = static_cast<int>(rng.below(3));
    for (int i = 0; i < cars; ++i) {
      const auto height = static_cast<std::uint16_t>(rng.uniform(8, 24));  // both sides of 16 px
      addRegion(rng, static_cast<std::uint16_t>(height * 3), height, wire::RegionKind::LicencePlate);
      objects_.push_back("vehicle;" + std::to_string(static_cast<int>(rng.uniform(5, 60))) + "m");
    }
    // A cheap, seed-determined texture so images differ frame to frame.
    std::uint64_t x = rng.next();
    for (auto& p : pixels_) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      p = static_cast<std::uint8_t>(x >> 56);
    }
    CORDON_TRY(f.addImage(image_, {kWidth, kHeight, wire::PixelFormat::Gray8, pixels_, regions_}));
    CORDON_TRY(f.addStringArray(objectList_, objects_));
    return {};
  }

 private:
  void addRegion(Rng& rng, std::uint16_t w, std::uint16_t h, wire::RegionKind kind) {
    w = std::min<std::uint16_t>(w, kWidth);
    h = std::min<std::uint16_t>(h, kHeight);
    const auto x = static_cast<std::uint16_t>(rng.below(kWidth - w + 1u));
    const auto y = static_cast<std::uint16_t>(rng.below(kHeight - h + 1u));
    const auto visible = static_cast<std::uint8_t>(rng.uniform(30, 100));
    regions_.push_back({wire::Box(x, y, w, h), kind, visible, kind != wire::RegionKind::LicencePlate || h >= 12});
  }

  Signals ids_;
  std::uint32_t image_ = ids_("Cordon.Camera.Front.Image");
  std::uint32_t objectList_ = ids_("Cordon.Camera.Front.ObjectList");
  std::vector<std::uint8_t> pixels_;
  std::vector<ecu::ImageRegion> regions_;
  std::vector<std::string> objects_;
};

class DriverMonitor final : public EcuModel {
 public:
  explicit DriverMonitor(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "driver-monitor"; }
  double periodS() const override { return 0.2; }  // 5 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    ++frames_;
    const double minutes = w.timeS / 60;
    CORDON_TRY(f.addDouble(fatigue_, std::min(100.0, 5 + minutes * 0.8 + rng.uniform(0, 3))));
    CORDON_TRY(f.addDouble(attentive_, std::max(0.0, 95 - minutes * 0.5 - rng.uniform(0, 5))));
    CORDON_TRY(f.addDouble(gazeAz_, rng.uniform(-15, 15)));
    CORDON_TRY(f.addDouble(gazeEl_, rng.uniform(-8, 4)));
    if (frames_ % 5 == 1) {  // 1 Hz
      CORDON_TRY(f.addUInt(heartRate_, static_cast<std::uint64_t>(rng.uniform(62, 84))));
      CORDON_TRY(f.addString(driverId_, w.driverId));
    }
    if (frames_ % 25 == 1 && rng.chance(w.cabinChatter)) {  // snippets at most every 5 s
      audio_.resize(1600);
      for (auto& b : audio_) b = static_cast<std::uint8_t>(rng.next());
      CORDON_TRY(f.addBytes(audio_id_, audio_));
    }
    return {};
  }

 private:
  Signals ids_;
  std::uint32_t fatigue_ = ids_("Vehicle.Driver.FatigueLevel");
  std::uint32_t attentive_ = ids_("Vehicle.Driver.AttentiveProbability");
  std::uint32_t gazeAz_ = ids_("Vehicle.Occupant.Row1.DriverSide.MidEyeGaze.Azimuth");
  std::uint32_t gazeEl_ = ids_("Vehicle.Occupant.Row1.DriverSide.MidEyeGaze.Elevation");
  std::uint32_t heartRate_ = ids_("Vehicle.Driver.HeartRate");
  std::uint32_t driverId_ = ids_("Vehicle.Occupant.Row1.DriverSide.Identifier.Subject");
  std::uint32_t audio_id_ = ids_("Cordon.Cabin.Audio.Snippet");
  std::vector<std::uint8_t> audio_;
  std::uint64_t frames_ = 0;
};

class Infotainment final : public EcuModel {
 public:
  explicit Infotainment(const ecu::Registry& r) : ids_(r) {}
  std::string_view source() const override { return "infotainment"; }
  double periodS() const override { return 5.0; }  // 0.2 Hz
  Status fill(const World& w, FrameBuilder& f, Rng& rng) override {
    CORDON_TRY(ids_.check());
    ++frames_;
    CORDON_TRY(f.addDouble(destLat_, w.destination.lat));
    CORDON_TRY(f.addDouble(destLon_, w.destination.lon));
    CORDON_TRY(f.addGeoPoint(dest_, {w.destination.lat, w.destination.lon, 0, 10.0f}));
    CORDON_TRY(f.addString(phone_, "+86 138 0013 8000"));  // the paired phone
    if (frames_ % 12 == 1) {                               // contacts sync every minute
      contacts_ = {"Li Wei;+86 139 0000 1111", "Wang Fang;+86 137 2222 3333", "Zhang Min;+86 136 4444 5555"};
      CORDON_TRY(f.addStringArray(contacts_id_, contacts_));
    }
    if (rng.chance(w.cabinChatter)) {
      static constexpr std::array<const char*, 4> kUtterances = {
          "navigate to the nearest charging station", "call Li Wei", "play some music", "set temperature to 22"};
      CORDON_TRY(f.addString(utterance_, kUtterances[rng.below(kUtterances.size())]));
    }
    return {};
  }

 private:
  Signals ids_;
  std::uint32_t destLat_ = ids_("Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Latitude");
  std::uint32_t destLon_ = ids_("Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Longitude");
  std::uint32_t dest_ = ids_("Cordon.Navigation.Destination");
  std::uint32_t phone_ = ids_("Cordon.Infotainment.Phone.Number");
  std::uint32_t contacts_id_ = ids_("Cordon.Infotainment.Phone.Contacts");
  std::uint32_t utterance_ = ids_("Cordon.Cabin.VoiceAssistant.Utterance");
  std::vector<std::string> contacts_;
  std::uint64_t frames_ = 0;
};

#undef CORDON_TRY

}  // namespace

std::vector<std::string> allEcuSources() {
  return {"telematics", "powertrain", "chassis", "body", "adas-camera", "driver-monitor", "infotainment"};
}

std::unique_ptr<EcuModel> makeEcu(std::string_view source, const ecu::Registry& registry) {
  if (source == "telematics") return std::make_unique<Telematics>(registry);
  if (source == "powertrain") return std::make_unique<Powertrain>(registry);
  if (source == "chassis") return std::make_unique<Chassis>(registry);
  if (source == "body") return std::make_unique<Body>(registry);
  if (source == "adas-camera") return std::make_unique<AdasCamera>(registry);
  if (source == "driver-monitor") return std::make_unique<DriverMonitor>(registry);
  if (source == "infotainment") return std::make_unique<Infotainment>(registry);
  return nullptr;
}

}  // namespace cordon::sim
