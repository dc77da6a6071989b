// cordon-bench-probe: the benchmark's subscriber on an endpoint broker (bench/peers;
// docs/benchmarks.md, "Side by side with peers"). It subscribes, stamps each message with
// the wall clock (CLOCK_REALTIME, the clock cordon-sim --clock wall stamps capture times
// with, on the same machine) as it arrives, and writes everything to a capture file. When
// it stops (SIGTERM/SIGINT, --idle-s without a message, or --max-s) it decodes each frame
// (a FlatBuffers SignalFrame, verified first, or the gateway's JSON rendering) and reports
// the frames, the distinct frame identities (source, boot epoch, counter) and the latency
// from capture to receipt: p50, p99 and max.
//
// Capture time: the frame's own capture_time_ns, or with --truth the simulator's for the
// same identity (an overseas copy carries a time coarsened to 60 s).
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <boost/program_options.hpp>
#include <mqtt/async_client.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "bench/peers_tools/capture_file.hpp"
#include "ecu/registry/registry.hpp"
#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/support/truth_line.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

std::atomic<bool> stopRequested{false};
void onSignal(int) { stopRequested = true; }

std::int64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

using Identity = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // source, boot epoch, counter

Result<std::map<Identity, std::int64_t>> readTruthCaptures(const std::vector<std::string>& files) {
  std::map<Identity, std::int64_t> out;
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) return Error{file + ": cannot read"};
    for (std::string line; std::getline(in, line);) {
      if (test::truthField(line, "t") != "frame") continue;
      out[{test::truthField(line, "source"), std::stoull(test::truthField(line, "epoch")),
           std::stoull(test::truthField(line, "seq"))}] = std::stoll(test::truthField(line, "capture_ns"));
    }
  }
  return out;
}

double percentile(std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(rank, sorted.size() - 1)]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options(
      "Usage: cordon-bench-probe --broker URI --out FILE [options]\n\n"
      "Subscribes to an endpoint broker, stamps each message's arrival (CLOCK_REALTIME), writes\n"
      "them to a capture file (for cordon-bench-check) and, when stopped, reports the frames\n"
      "received and the latency from capture to receipt. Stops on SIGTERM or SIGINT, after\n"
      "--idle-s without a frame, or after --max-s.\n\nOptions");
  options.add_options()("help,h", "this help")
      ("broker", po::value<std::string>(), "endpoint broker, tcp://HOST:PORT or ssl://HOST:PORT")
      ("topic", po::value<std::string>()->default_value("#"), "topic filter")
      ("qos", po::value<int>()->default_value(1), "subscription QoS")
      ("client-id", po::value<std::string>()->default_value("cordon-bench-probe"), "MQTT client id")
      ("ca", po::value<std::string>(), "CA file (ssl://)")
      ("cert", po::value<std::string>(), "client certificate (ssl://, mutual TLS)")
      ("key", po::value<std::string>(), "client key (ssl://, mutual TLS)")
      ("out", po::value<std::string>(), "capture file to write")
      ("ready-file", po::value<std::string>(), "created once the subscription is granted")
      ("idle-s", po::value<double>()->default_value(0), "stop after this long without a frame, once one arrived (0: never)")
      ("max-s", po::value<double>()->default_value(0), "stop after this long in all (0: never)")
      ("truth", po::value<std::vector<std::string>>()->composing(),
       "cordon-sim ground truth: capture times by frame identity (repeatable)")
      ("frames", po::value<std::string>()->default_value("/frames/"), "a frame's topic contains this")
      ("report", po::value<std::string>(), "also write the report as one JSON object to FILE")
      ("progress", po::value<std::string>(), "keep FILE holding the number of frames received so far (every 200 ms)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "cordon-bench-probe: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (!vm.count("broker") || !vm.count("out")) {
    std::cerr << "cordon-bench-probe: --broker and --out are required (see --help)\n";
    return 2;
  }
  const std::string uri = vm["broker"].as<std::string>();
  const std::string outPath = vm["out"].as<std::string>();
  auto writer = bench::CaptureWriter::create(outPath);
  if (!writer) {
    std::cerr << "cordon-bench-probe: " << writer.error().message << "\n";
    return 2;
  }
  signal(SIGTERM, onSignal);
  signal(SIGINT, onSignal);

  // Paho's thread only stamps and queues; the main thread writes.
  std::mutex mutex;
  std::vector<bench::CapturedMessage> queued;
  std::atomic<std::int64_t> lastArrival{0};
  mqtt::async_client client(uri, vm["client-id"].as<std::string>(), mqtt::create_options(MQTTVERSION_3_1_1));
  const std::string topic = vm["topic"].as<std::string>();
  const std::string framesMark = vm["frames"].as<std::string>();
  const int qos = vm["qos"].as<int>();
  client.set_message_callback([&](mqtt::const_message_ptr m) {
    const std::int64_t now = realtimeNs();
    bench::CapturedMessage c;
    c.receiptNs = now;
    c.topic = m->get_topic();
    const auto& payload = m->get_payload();
    c.payload.assign(payload.begin(), payload.end());
    const bool frame = c.topic.find(framesMark) != std::string::npos;
    {
      std::lock_guard lock(mutex);
      queued.push_back(std::move(c));
    }
    if (frame) lastArrival = now;  // other traffic (status, audit seals) does not keep the probe waiting
  });
  mqtt::connect_options connect;
  connect.set_mqtt_version(MQTTVERSION_3_1_1);
  connect.set_clean_session(true);
  connect.set_keep_alive_interval(30);
  if (uri.rfind("ssl://", 0) == 0) {
    mqtt::ssl_options ssl;
    if (vm.count("ca")) ssl.set_trust_store(vm["ca"].as<std::string>());
    if (vm.count("cert")) ssl.set_key_store(vm["cert"].as<std::string>());
    if (vm.count("key")) ssl.set_private_key(vm["key"].as<std::string>());
    ssl.set_enable_server_cert_auth(true);
    connect.set_ssl(std::move(ssl));
  }
  try {
    client.connect(connect)->wait_for(std::chrono::seconds(10));
    if (!client.is_connected()) throw mqtt::exception(-1, "not connected within 10 s");
    client.subscribe(topic, qos)->wait_for(std::chrono::seconds(10));
  } catch (const mqtt::exception& e) {
    std::cerr << "cordon-bench-probe: " << uri << ": " << e.what() << "\n";
    return 1;
  }
  if (vm.count("ready-file")) std::ofstream(vm["ready-file"].as<std::string>()) << "subscribed\n";

  const double idleS = vm["idle-s"].as<double>(), maxS = vm["max-s"].as<double>();
  const std::int64_t started = realtimeNs();
  std::size_t messages = 0;
  auto drain = [&](const auto& also) -> bool {
    std::vector<bench::CapturedMessage> batch;
    {
      std::lock_guard lock(mutex);
      batch.swap(queued);
    }
    also(batch);
    for (const auto& m : batch) {
      if (Status s = writer.value()->append(m); !s) {
        std::cerr << "cordon-bench-probe: " << s.message() << "\n";
        return false;
      }
    }
    messages += batch.size();
    return true;
  };
  const std::string progressPath = vm.count("progress") ? vm["progress"].as<std::string>() : "";
  std::size_t frameCount = 0, loops = 0;
  auto countFrames = [&](const std::vector<bench::CapturedMessage>& batch) {
    for (const auto& m : batch) frameCount += m.topic.find(framesMark) != std::string::npos ? 1U : 0U;
  };
  while (!stopRequested) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!drain(countFrames)) return 1;
    if (!progressPath.empty() && ++loops % 4 == 0) {
      // Written whole and renamed, so a reader never sees half a number.
      { std::ofstream(progressPath + ".new") << frameCount << "\n"; }
      std::rename((progressPath + ".new").c_str(), progressPath.c_str());
    }
    const std::int64_t now = realtimeNs();
    const std::int64_t last = lastArrival.load();
    if (idleS > 0 && last > 0 && static_cast<double>(now - last) / 1e9 >= idleS) break;
    if (maxS > 0 && static_cast<double>(now - started) / 1e9 >= maxS) break;
  }
  try {
    client.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    // The broker may be gone at the end of a run: what arrived is written below.
  }
  if (!drain(countFrames) || !writer.value()->flush()) return 1;
  // The CPU of receiving and writing (the report's decoding below is not the probe's load).
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpuS = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  writer.value().reset();

  // ---- the report, from the file just written
  auto captured = bench::readCapture(outPath);
  if (!captured) {
    std::cerr << "cordon-bench-probe: " << captured.error().message << "\n";
    return 1;
  }
  std::map<Identity, std::int64_t> truth;
  if (vm.count("truth")) {
    auto read = readTruthCaptures(vm["truth"].as<std::vector<std::string>>());
    if (!read) {
      std::cerr << "cordon-bench-probe: " << read.error().message << "\n";
      return 1;
    }
    truth = std::move(read).value();
  }
  const auto registry = ecu::Registry::builtin();
  std::size_t frames = 0, decodeErrors = 0, unknown = 0;
  std::set<Identity> distinct;
  std::vector<std::int64_t> latencies;
  std::int64_t first = 0, last = 0;
  std::string firstError;
  for (const auto& c : captured.value()) {
    if (c.topic.find(framesMark) == std::string::npos) continue;
    ++frames;
    first = first == 0 ? c.receiptNs : std::min(first, c.receiptNs);
    last = std::max(last, c.receiptNs);
    test::ReceivedMessage m{c.topic, c.payload};
    const bool json = !c.payload.empty() && c.payload[0] == '{';
    auto frame = json ? test::e2e::decodeJson(m) : test::e2e::decodeFlatBuffers(m, *registry);
    if (!frame) {
      if (decodeErrors++ == 0) firstError = frame.error().message;
      continue;
    }
    const Identity id{frame->source, frame->bootEpoch, frame->counter};
    distinct.insert(id);
    std::int64_t capture = frame->captureNs;
    if (!truth.empty()) {
      const auto t = truth.find(id);
      if (t == truth.end()) {
        ++unknown;
        continue;
      }
      capture = t->second;
    }
    latencies.push_back(c.receiptNs - capture);
  }
  std::sort(latencies.begin(), latencies.end());
  const double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99);
  const double max = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  std::cout << "cordon-bench-probe: " << uri << ": " << messages << " messages, " << frames << " frames ("
            << distinct.size() << " distinct, " << decodeErrors << " not decodable, " << unknown
            << " not in the truth); latency capture -> receipt p50 " << p50 << " ms, p99 " << p99 << " ms, max "
            << max << " ms over " << latencies.size() << " frames\n";
  if (decodeErrors > 0) std::cout << "cordon-bench-probe: first decode error: " << firstError << "\n";
  if (vm.count("report")) {
    std::ofstream report(vm["report"].as<std::string>());
    report << "{\"messages\": " << messages << ", \"frames\": " << frames << ", \"distinct\": " << distinct.size()
           << ", \"decode_errors\": " << decodeErrors << ", \"unknown\": " << unknown
           << ", \"first_receipt_ns\": " << first << ", \"last_receipt_ns\": " << last
           << ", \"latency_frames\": " << latencies.size() << ", \"p50_ms\": " << p50 << ", \"p99_ms\": " << p99
           << ", \"max_ms\": " << max << ", \"cpu_s\": " << cpuS << "}\n";
  }
  return 0;
}
