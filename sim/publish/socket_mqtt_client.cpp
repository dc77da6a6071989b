#include "sim/publish/socket_mqtt_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace cordon::sim {
namespace {

constexpr std::uint8_t kConnect = 0x10;
constexpr std::uint8_t kConnack = 0x20;
constexpr std::uint8_t kPublish = 0x30;
constexpr std::uint8_t kPuback = 0x40;
constexpr std::uint8_t kPingreq = 0xC0;
constexpr std::uint8_t kDisconnect = 0xE0;
constexpr std::size_t kMaxRemainingLength = 268'435'455;  // MQTT's four-byte length limit
constexpr std::size_t kMaxPacketIds = 65'535;

void putLength(std::vector<std::uint8_t>& out, std::size_t n) {
  do {
    auto digit = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) digit |= 0x80;
    out.push_back(digit);
  } while (n > 0);
}

void putU16(std::vector<std::uint8_t>& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

void putString(std::vector<std::uint8_t>& out, std::string_view s) {
  putU16(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

std::string errnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Writes everything or fails; EINTR is retried.
bool writeAll(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int millisUntil(ecu::Deadline deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
}

}  // namespace

struct SocketMqttClient::State {
  ecu::MqttClientOptions options;
  std::string host;
  std::string port;
  ecu::MqttHandler* handler = nullptr;

  int fd = -1;
  std::thread writer;
  std::thread reader;

  std::mutex mutex;
  std::condition_variable wake;                               // for the writer: data queued, or stopping
  std::condition_variable idle;                               // for disconnect(): nothing left to send or acknowledge
  bool connected = false;                                     // guarded by mutex
  bool stopping = false;                                      // guarded by mutex
  bool writing = false;                                       // guarded by mutex: the writer holds a batch
  std::vector<std::uint8_t> queued;                           // encoded, not yet handed to the writer
  std::vector<std::uint64_t> queuedQos0;                      // their QoS 0 tags
  std::unordered_map<std::uint16_t, std::uint64_t> awaiting;  // QoS 1: packet id -> tag
  std::uint16_t nextId = 1;

  void report(std::uint64_t tag, const Status& outcome) {
    if (handler) handler->onDelivery(tag, outcome);
  }

  // The connection is gone: everything not reported yet fails, once. Called by whichever
  // thread notices first; the writer fails its own batch separately.
  void lose(const std::string& cause) {
    std::vector<std::uint64_t> failed;
    {
      std::lock_guard lock(mutex);
      if (!connected) return;
      connected = false;
      failed = std::move(queuedQos0);
      queuedQos0.clear();
      queued.clear();
      for (const auto& [id, tag] : awaiting) failed.push_back(tag);
      awaiting.clear();
      wake.notify_all();
      idle.notify_all();
    }
    const Status outcome = Error{"delivery failed: " + cause};
    for (const auto tag : failed) report(tag, outcome);
    if (handler) handler->onConnectionLost(cause);
  }

  void writeLoop() {
    std::vector<std::uint8_t> batch;
    std::vector<std::uint64_t> batchQos0;
    // The broker drops a client that sends nothing for 1.5 keep-alive intervals.
    const auto pingEvery = options.keepAlive.count() > 0 ? options.keepAlive / 2 : std::chrono::seconds(3600);
    auto lastWrite = std::chrono::steady_clock::now();
    for (;;) {
      {
        std::unique_lock lock(mutex);
        writing = false;
        idle.notify_all();
        wake.wait_until(lock, lastWrite + pingEvery, [&] { return stopping || !connected || !queued.empty(); });
        if (!connected || (stopping && queued.empty())) return;
        batch.swap(queued);
        batchQos0.swap(queuedQos0);
        writing = true;
      }
      if (batch.empty()) batch.assign({kPingreq, 0});
      if (!writeAll(fd, batch.data(), batch.size())) {
        const auto cause = errnoText("write to " + options.brokerUri);
        for (const auto tag : batchQos0) report(tag, Error{"delivery failed: " + cause});
        batchQos0.clear();
        lose(cause);
        continue;  // sees !connected and ends
      }
      lastWrite = std::chrono::steady_clock::now();
      for (const auto tag : batchQos0) report(tag, Status{});
      batch.clear();
      batchQos0.clear();
    }
  }

  void readLoop() {
    std::vector<std::uint8_t> in;
    std::uint8_t chunk[4096];
    for (;;) {
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        {
          std::lock_guard lock(mutex);
          if (stopping) return;  // our own disconnect: disconnect() reports what is left
        }
        lose(n == 0 ? "the broker closed the connection" : errnoText("read from " + options.brokerUri));
        return;
      }
      in.insert(in.end(), chunk, chunk + n);
      // Packets from the broker here are PUBACK (4 bytes) and PINGRESP (2 bytes); others are skipped.
      std::size_t at = 0;
      while (in.size() - at >= 2) {
        std::size_t length = 0;
        std::size_t shift = 0;
        std::size_t header = 1;
        bool complete = false;
        while (at + header < in.size() && header <= 4) {
          const auto digit = in[at + header++];
          length |= static_cast<std::size_t>(digit & 0x7F) << shift;
          shift += 7;
          if (!(digit & 0x80)) {
            complete = true;
            break;
          }
        }
        if (!complete || in.size() - at - header < length) break;
        if ((in[at] & 0xF0) == kPuback && length == 2) {
          const auto id = static_cast<std::uint16_t>((in[at + header] << 8) | in[at + header + 1]);
          std::uint64_t tag = 0;
          bool known = false;
          {
            std::lock_guard lock(mutex);
            if (const auto it = awaiting.find(id); it != awaiting.end()) {
              tag = it->second;
              known = true;
              awaiting.erase(it);
              if (awaiting.empty()) idle.notify_all();
            }
          }
          if (known) report(tag, Status{});
        }
        at += header + length;
      }
      in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }

  Status openSocket(ecu::Deadline deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return Error{"connect to " + options.brokerUri + ": " + ::gai_strerror(rc)};
    }
    std::string why = "no address";
    for (auto* a = found; a; a = a->ai_next) {
      const int s = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (s < 0) continue;
      if (::connect(s, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
        why = errnoText("connect");
        ::close(s);
        continue;
      }
      pollfd p{s, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, millisUntil(deadline)) != 1 || ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
          err != 0) {
        why = err != 0 ? std::string("connect: ") + std::strerror(err) : "connect: no answer before the deadline";
        ::close(s);
        continue;
      }
      ::fcntl(s, F_SETFL, 0);  // blocking from here: the writer's write is the back-pressure
      const int one = 1;
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // batches are already large
      fd = s;
      break;
    }
    ::freeaddrinfo(found);
    if (fd < 0) return Error{"connect to " + options.brokerUri + ": " + why};
    return {};
  }

  Status handshake(ecu::Deadline deadline) {
    std::vector<std::uint8_t> body;
    putString(body, "MQTT");
    body.push_back(4);                                   // 3.1.1
    // Flags: user name 0x80, password 0x40 (only with a user name), no will, clean session 0x02.
    const bool login = !options.username.empty();
    body.push_back(static_cast<std::uint8_t>((login ? 0xC0 : 0x00) | (options.cleanSession ? 0x02 : 0x00)));
    putU16(body, static_cast<std::size_t>(options.keepAlive.count()));
    putString(body, options.clientId);
    if (login) {
      putString(body, options.username);
      putString(body, options.password);
    }
    std::vector<std::uint8_t> packet{kConnect};
    putLength(packet, body.size());
    packet.insert(packet.end(), body.begin(), body.end());
    if (!writeAll(fd, packet.data(), packet.size())) return Error{errnoText("connect to " + options.brokerUri)};
    std::uint8_t ack[4];
    std::size_t got = 0;
    while (got < sizeof ack) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, millisUntil(deadline)) != 1) {
        return Error{"connect to " + options.brokerUri + ": no CONNACK before the deadline"};
      }
      const auto n = ::recv(fd, ack + got, sizeof ack - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error{"connect to " + options.brokerUri + ": the broker closed the connection"};
      got += static_cast<std::size_t>(n);
    }
    if (ack[0] != kConnack || ack[1] != 2) return Error{"connect to " + options.brokerUri + ": not an MQTT broker"};
    if (ack[3] != 0) {
      const auto reason = ecu::connackReason(ack[3]);
      return Error{"connect to " + options.brokerUri + ": refused by the broker (CONNACK code " +
                   std::to_string(ack[3]) + (reason.empty() ? "" : ": " + std::string(reason)) + ")"};
    }
    return {};
  }

  // Stops both threads and closes the socket; pending reports are the caller's.
  // graceful: let the writer send what it holds first (it may block on a stalled broker).
  void stop(bool graceful) {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      wake.notify_all();
    }
    if (!graceful && fd >= 0) ::shutdown(fd, SHUT_RDWR);  // a blocked write fails at once
    if (writer.joinable()) writer.join();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes the reader
    if (reader.joinable()) reader.join();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

Result<std::unique_ptr<SocketMqttClient>> SocketMqttClient::create(ecu::MqttClientOptions options) {
  if (auto s = ecu::validate(options); !s) return Error{s.message()};
  constexpr std::string_view kScheme = "tcp://";
  if (!options.brokerUri.starts_with(kScheme)) {
    return Error{"mqtt.brokerUri: the socket client speaks tcp:// only (use the Paho client for ssl://)"};
  }
  if (options.offlineBufferMessages > 0) return Error{"mqtt.offlineBufferMessages: not supported by the socket client"};
  if (options.keepAlive.count() > 65'535) return Error{"mqtt.keepAlive: at most 65535 s"};
  auto state = std::make_unique<State>();
  const auto hostPort = options.brokerUri.substr(kScheme.size());
  const auto colon = hostPort.rfind(':');
  state->host = hostPort.substr(0, colon);
  state->port = hostPort.substr(colon + 1);
  if (state->host.size() > 2 && state->host.front() == '[' && state->host.back() == ']') {
    state->host = state->host.substr(1, state->host.size() - 2);
  }
  state->options = std::move(options);
  return std::unique_ptr<SocketMqttClient>(new SocketMqttClient(std::move(state)));
}

SocketMqttClient::SocketMqttClient(std::unique_ptr<State> state) : state_(std::move(state)) {}

SocketMqttClient::~SocketMqttClient() {
  // Publishes still pending get no report (as with Paho).
  state_->handler = nullptr;
  state_->stop(false);
}

void SocketMqttClient::setHandler(ecu::MqttHandler& handler) {
  state_->handler = &handler;
}

Status SocketMqttClient::connect(ecu::Deadline deadline) {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (s.connected) return {};
  }
  s.stop(false);  // the threads of an earlier, lost connection
  if (auto opened = s.openSocket(deadline); !opened) return opened;
  if (auto shook = s.handshake(deadline); !shook) {
    ::close(s.fd);
    s.fd = -1;
    return shook;
  }
  {
    std::lock_guard lock(s.mutex);
    s.connected = true;
    s.stopping = false;
  }
  s.writer = std::thread([&s] { s.writeLoop(); });
  s.reader = std::thread([&s] { s.readLoop(); });
  if (s.handler) s.handler->onConnected(false);
  return {};
}

Status SocketMqttClient::publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                                 std::uint64_t tag) {
  if (qos != 0 && qos != 1) return Error{"publish to " + std::string(topic) + ": the socket client does QoS 0 and 1"};
  const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
  if (topic.empty() || topic.size() > 65'535 || remaining > kMaxRemainingLength) {
    return Error{"publish to " + std::string(topic) + ": topic or payload too large"};
  }
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  if (!s.connected || s.stopping) return Error{"publish to " + std::string(topic) + ": not connected"};
  if (qos == 1 && s.awaiting.size() >= kMaxPacketIds) {
    return Error{"publish to " + std::string(topic) + ": 65535 publishes unacknowledged"};
  }
  const bool wasEmpty = s.queued.empty();
  auto& out = s.queued;
  out.push_back(static_cast<std::uint8_t>(kPublish | (qos << 1)));
  putLength(out, remaining);
  putString(out, topic);
  if (qos == 1) {
    while (s.nextId == 0 || s.awaiting.contains(s.nextId)) ++s.nextId;  // ids wrap; 0 is not one
    putU16(out, s.nextId);
    s.awaiting.emplace(s.nextId++, tag);
  } else {
    s.queuedQos0.push_back(tag);
  }
  out.insert(out.end(), payload.begin(), payload.end());
  if (wasEmpty) s.wake.notify_one();
  return {};
}

Status SocketMqttClient::subscribe(std::string_view topicFilter, int, ecu::Deadline) {
  return Error{"subscribe to " + std::string(topicFilter) + ": the socket client only publishes"};
}

Status SocketMqttClient::disconnect(ecu::Deadline deadline) {
  auto& s = *state_;
  std::vector<std::uint64_t> unacknowledged;
  bool drained = false;
  {
    std::unique_lock lock(s.mutex);
    drained = s.idle.wait_until(lock, deadline,
                                [&] { return !s.connected || (s.queued.empty() && !s.writing && s.awaiting.empty()); });
    if (drained && s.connected) s.queued.assign({kDisconnect, 0});  // the writer sends it, then ends
    s.stopping = true;
    s.wake.notify_all();
  }
  s.stop(drained);
  {
    std::lock_guard lock(s.mutex);
    s.connected = false;
    unacknowledged = std::move(s.queuedQos0);
    s.queuedQos0.clear();
    s.queued.clear();
    for (const auto& [id, tag] : s.awaiting) unacknowledged.push_back(tag);
    s.awaiting.clear();
  }
  for (const auto tag : unacknowledged) {
    s.report(tag, Error{"delivery failed: disconnected before the broker acknowledged it"});
  }
  return {};
}

bool SocketMqttClient::connected() const {
  std::lock_guard lock(state_->mutex);
  return state_->connected;
}

}  // namespace cordon::sim
