#pragma once
// cordon-gateway's runtime (docs/architecture.md, "The gateway at run time"): one
// Boost.Asio event loop on one thread owns every stage. Ingest (Paho's thread) and the
// uplinks (their own threads) only hand reports over and wake the loop.
//
//   in-vehicle broker -> Ingest -> FrameVerifier -> VehicleState -> FramePipeline (per
//   endpoint: decide, transform, encode) -> staged until the commit timer -> one SQLite
//   transaction: outbox rows + audit records (+ acks, evictions, gaps, signature) ->
//   Uplinks (QoS 1, bounded window) -> acknowledgements -> deleted at the next commit.
//
// Nothing is sent before its outbox row and audit record are committed, so an upload
// without an audit record cannot exist; a kill at any moment loses at most the frames
// ingested since the last commit (the ingest loss window), and those show up as audited
// sequence gaps at the next start.
#include <memory>

#include "ecu/common/result.hpp"
#include "gateway/config/gateway_config.hpp"

namespace cordon::daemon {

class Gateway {
 public:
  // Loads keys and the policy bundle, runs the start-up checks, opens the outbox and
  // audit log, creates the clients (nothing connects yet). An error means nothing ran:
  // its message names every problem, one per line.
  static Result<std::unique_ptr<Gateway>> create(config::GatewayConfig config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Runs until SIGTERM or SIGINT (then drains) and returns the exit code.
  int run();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The start-up checks alone (--check): config and policy, no clients, no database.
Status checkOnly(const config::GatewayConfig& config);

}  // namespace cordon::daemon
