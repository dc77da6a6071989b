#include "gateway/transform/key_ring.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <system_error>

namespace cordon::transform {
namespace {

void wipeKeys(std::vector<PseudonymKey>& keys) {
  for (PseudonymKey& key : keys) {
    if (!key.bytes.empty()) OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
    key.bytes.clear();
  }
}

void wipeString(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

// Thread-safe, unlike strerror.
std::string errnoText() {
  return std::generic_category().message(errno);
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// Reads the whole file after checking it is a private regular file of ours.
Result<std::string> readPrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot open: " + errnoText()};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error{path + ": cannot stat: " + errnoText()};
  if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
  if (st.st_uid != ::geteuid()) return Error{path + ": not owned by the user running the gateway"};
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Error{path + ": group or others may access the key file (chmod 600 it)"};
  }
  constexpr off_t kMaxSize = 1 << 20;
  if (st.st_size > kMaxSize) return Error{path + ": larger than 1 MiB, not a key file"};
  // Room for the whole file up front: a reallocation would leave a copy of the keys behind
  // that nothing wipes.
  const auto capacity = static_cast<std::size_t>(st.st_size) + 1;
  std::string text;
  text.reserve(capacity);
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = errnoText();
      OPENSSL_cleanse(buffer, sizeof buffer);
      wipeString(text);
      return Error{path + ": cannot read: " + why};
    }
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > capacity - 1) {
      OPENSSL_cleanse(buffer, sizeof buffer);
      wipeString(text);
      return Error{path + ": changed while it was read"};
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  return text;
}

}  // namespace

Result<KeyRing> KeyRing::create(std::vector<PseudonymKey> keys) {
  auto fail = [&keys](std::string message) -> Result<KeyRing> {
    wipeKeys(keys);
    return Error{std::move(message)};
  };
  if (keys.empty()) return fail("key ring: no key");
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.epoch < b.epoch; });
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const PseudonymKey& key = keys[i];
    const std::string epoch = std::to_string(key.epoch);
    if (key.epoch == 0) return fail("key ring: key epoch 0 is not valid (epochs start at 1)");
    if (i > 0 && keys[i - 1].epoch == key.epoch) return fail("key ring: key epoch " + epoch + " appears twice");
    if (key.bytes.size() < kMinKeyBytes || key.bytes.size() > kMaxKeyBytes) {
      return fail("key ring: the key of epoch " + epoch + " has " + std::to_string(key.bytes.size()) +
                  " bytes; it needs " + std::to_string(kMinKeyBytes) + " to " + std::to_string(kMaxKeyBytes));
    }
  }
  return KeyRing(std::move(keys));
}

Result<KeyRing> KeyRing::loadFile(const std::string& path) {
  auto text = readPrivateFile(path);
  if (!text) return text.error();
  std::vector<PseudonymKey> keys;
  auto fail = [&](std::size_t line, const std::string& why) -> Result<KeyRing> {
    wipeKeys(keys);
    wipeString(text.value());
    return Error{path + ":" + std::to_string(line) + ": " + why};
  };

  std::string_view rest = text.value();
  std::size_t lineNo = 0;
  while (!rest.empty()) {
    ++lineNo;
    const auto end = rest.find('\n');
    const std::string_view line = trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;

    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return fail(lineNo, "expected \"<epoch> <key in hex>\"");
    const std::string_view epochText = line.substr(0, space);
    const std::string_view hex = trim(line.substr(space));
    std::uint64_t epoch = 0;
    for (char c : epochText) {
      if (c < '0' || c > '9') return fail(lineNo, "the epoch is not a decimal number");
      epoch = epoch * 10 + static_cast<std::uint64_t>(c - '0');
      if (epoch > UINT32_MAX) return fail(lineNo, "the epoch is larger than 4294967295");
    }
    if (hex.size() % 2 != 0) return fail(lineNo, "the key has an odd number of hex digits");
    PseudonymKey key{static_cast<std::uint32_t>(epoch), {}};
    key.bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = hexDigit(hex[i]);
      const int lo = hexDigit(hex[i + 1]);
      if (hi < 0 || lo < 0) {
        keys.push_back(std::move(key));  // so that fail() wipes it
        return fail(lineNo, "the key is not hex");
      }
      key.bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    for (const PseudonymKey& seen : keys) {
      if (seen.epoch == key.epoch) {
        keys.push_back(std::move(key));
        return fail(lineNo, "key epoch " + std::to_string(epoch) + " appears twice");
      }
    }
    if (key.bytes.size() < kMinKeyBytes || key.bytes.size() > kMaxKeyBytes) {
      keys.push_back(std::move(key));
      return fail(lineNo, "a key needs " + std::to_string(kMinKeyBytes) + " to " + std::to_string(kMaxKeyBytes) +
                              " bytes (" + std::to_string(2 * kMinKeyBytes) + " to " +
                              std::to_string(2 * kMaxKeyBytes) + " hex digits)");
    }
    keys.push_back(std::move(key));
  }
  wipeString(text.value());
  auto ring = create(std::move(keys));
  if (!ring) return Error{path + ": " + ring.error().message};
  return ring;
}

KeyRing& KeyRing::operator=(KeyRing&& other) noexcept {
  if (this != &other) {
    wipe();
    keys_ = std::move(other.keys_);
  }
  return *this;
}

KeyRing::~KeyRing() {
  wipe();
}

void KeyRing::wipe() {
  wipeKeys(keys_);
}

std::span<const std::uint8_t> KeyRing::key(std::uint32_t epoch) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), epoch,
                             [](const PseudonymKey& key, std::uint32_t e) { return key.epoch < e; });
  if (it == keys_.end() || it->epoch != epoch) return {};
  return it->bytes;
}

std::vector<std::uint32_t> KeyRing::epochs() const {
  std::vector<std::uint32_t> result;
  result.reserve(keys_.size());
  for (const PseudonymKey& key : keys_) result.push_back(key.epoch);
  return result;
}

}  // namespace cordon::transform
