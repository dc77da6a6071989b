#include "gateway/transform/pseudonymiser.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidcheck/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gateway/transform/key_ring.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::transform {
namespace {

std::vector<std::uint8_t> bytesOf(std::uint8_t seed, std::size_t n = 32) {
  std::vector<std::uint8_t> key(n);
  for (std::size_t i = 0; i < n; ++i) key[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 1);
  return key;
}

KeyRing ringOf(std::vector<PseudonymKey> keys) {
  return KeyRing::create(std::move(keys)).value();
}

TEST(Base32, Rfc4648Vectors) {
  auto b32 = [](std::string_view s) { return base32Lower(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); };
  EXPECT_EQ(b32(""), "");
  EXPECT_EQ(b32("f"), "my");
  EXPECT_EQ(b32("fo"), "mzxq");
  EXPECT_EQ(b32("foo"), "mzxw6");
  EXPECT_EQ(b32("foob"), "mzxw6yq");
  EXPECT_EQ(b32("fooba"), "mzxw6ytb");
  EXPECT_EQ(b32("foobar"), "mzxw6ytboi");
}

TEST(Pseudonymiser, IsTruncatedHmacSha256OfTheLengthPrefixedDomainAndValue) {
  const auto key = bytesOf(1);
  auto p = Pseudonymiser::create(ringOf({{7, key}}), 7).value();  // the ring may go away
  const std::string domain = "vin";
  const std::string value = "LSVAU2180N2183294";
  std::string message = std::string("\0\0\0\3", 4) + domain + value;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macSize = 0;
  ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &macSize),
            nullptr);
  const std::string pseudonym = p.pseudonymise(domain, value).value();
  EXPECT_EQ(pseudonym, "p7:" + base32Lower(mac, 16));
  EXPECT_EQ(pseudonym.size(), 3u + 26u);
  EXPECT_EQ(p.epoch(), 7u);
}

TEST(Pseudonymiser, NeedsTheEpochsKey) {
  auto ring = ringOf({{1, bytesOf(1)}, {2, bytesOf(2)}});
  EXPECT_TRUE(Pseudonymiser::create(ring, 2).ok());
  auto missing = Pseudonymiser::create(ring, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("epoch 3"), std::string::npos);
}

TEST(Pseudonymiser, DomainsAreSeparated) {
  auto p = Pseudonymiser::create(ringOf({{1, bytesOf(1)}}), 1).value();
  EXPECT_NE(p.pseudonymise("ab", "c").value(), p.pseudonymise("a", "bc").value());
  EXPECT_NE(p.pseudonymise("vin", "X").value(), p.pseudonymise("plate", "X").value());
}

TEST(KeyRing, RefusesBadKeys) {
  EXPECT_FALSE(KeyRing::create({}).ok());
  EXPECT_FALSE(KeyRing::create({{0, bytesOf(1)}}).ok());
  EXPECT_FALSE(KeyRing::create({{1, bytesOf(1)}, {1, bytesOf(2)}}).ok());
  EXPECT_FALSE(KeyRing::create({{1, bytesOf(1, 31)}}).ok());
  EXPECT_FALSE(KeyRing::create({{1, bytesOf(1, 65)}}).ok());
  auto ring = KeyRing::create({{3, bytesOf(3)}, {1, bytesOf(1, 64)}}).value();
  EXPECT_EQ(ring.epochs(), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_TRUE(ring.has(3));
  EXPECT_FALSE(ring.has(2));
}

class KeyFile : public testing::Test {
 protected:
  std::string write(const std::string& text, mode_t mode) {
    auto path = dir_.write("keys", text);
    ::chmod(path.c_str(), mode);
    return path.string();
  }
  test::ScratchDir dir_{"cordon-keyring"};
};

const std::string kHex1(64, 'a');
const std::string kHex2 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

TEST_F(KeyFile, LoadsAPrivateFile) {
  auto ring = KeyRing::loadFile(write("# pseudonym keys\n1 " + kHex1 + "\n\n  2\t" + kHex2 + "  \n", 0600));
  ASSERT_TRUE(ring.ok()) << ring.error().message;
  EXPECT_EQ(ring->epochs(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(ring->key(1)[0], 0xaa);
  EXPECT_EQ(ring->key(2)[31], 0xff);
  EXPECT_TRUE(KeyRing::loadFile(write("1 " + kHex1 + "\n", 0400)).ok());
}

TEST_F(KeyFile, RefusesAFileOthersCanRead) {
  auto ring = KeyRing::loadFile(write("1 " + kHex1 + "\n", 0644));
  ASSERT_FALSE(ring.ok());
  EXPECT_NE(ring.error().message.find("chmod 600"), std::string::npos);
  EXPECT_FALSE(KeyRing::loadFile(write("1 " + kHex1 + "\n", 0620)).ok());
}

TEST_F(KeyFile, RefusesSymlinksAndMissingFiles) {
  const std::string target = write("1 " + kHex1 + "\n", 0600);
  const auto link = dir_ / "link";
  std::filesystem::create_symlink(target, link);
  EXPECT_FALSE(KeyRing::loadFile(link.string()).ok());
  EXPECT_FALSE(KeyRing::loadFile((dir_ / "absent").string()).ok());
}

TEST_F(KeyFile, NamesTheBadLineWithoutShowingTheKey) {
  auto bad = KeyRing::loadFile(write("1 " + kHex1 + "\n# c\n2 " + kHex1.substr(0, 62) + "zz\n", 0600));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("keys:3: "), std::string::npos) << bad.error().message;
  EXPECT_EQ(bad.error().message.find("aaaa"), std::string::npos);
  EXPECT_FALSE(KeyRing::loadFile(write("1\n", 0600)).ok());
  EXPECT_FALSE(KeyRing::loadFile(write("x " + kHex1 + "\n", 0600)).ok());
  EXPECT_FALSE(KeyRing::loadFile(write("1 " + kHex1 + "\n1 " + kHex2 + "\n", 0600)).ok());
  EXPECT_FALSE(KeyRing::loadFile(write("1 abcd\n", 0600)).ok());
  EXPECT_FALSE(KeyRing::loadFile(write("", 0600)).ok());
}

rc::Gen<std::vector<std::uint8_t>> genKey() {
  return rc::gen::container<std::vector<std::uint8_t>>(32, rc::gen::arbitrary<std::uint8_t>());
}

RC_GTEST_PROP(Pseudonymiser, StableWithinAnEpoch, (std::string domain, std::string value)) {
  const auto key = *genKey();
  const auto epoch = *rc::gen::inRange<std::uint32_t>(1, 1000);
  auto a = Pseudonymiser::create(ringOf({{epoch, key}}), epoch).value();
  auto b = Pseudonymiser::create(ringOf({{epoch, key}}), epoch).value();  // e.g. after a restart
  const std::string pa = a.pseudonymise(domain, value).value();
  RC_ASSERT(pa == a.pseudonymise(domain, value).value());
  RC_ASSERT(pa == b.pseudonymise(domain, value).value());
  RC_ASSERT(pa.rfind("p" + std::to_string(epoch) + ":", 0) == 0);
  RC_ASSERT(pa.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567", pa.find(':') + 1) == std::string::npos);
}

RC_GTEST_PROP(Pseudonymiser, DifferentInputsGiveDifferentPseudonyms,
              (std::string domain, std::string a, std::string b)) {
  RC_PRE(a != b);
  auto p = Pseudonymiser::create(ringOf({{1, *genKey()}}), 1).value();
  RC_ASSERT(p.pseudonymise(domain, a).value() != p.pseudonymise(domain, b).value());
}

RC_GTEST_PROP(Pseudonymiser, UnlinkableAcrossEpochs, (std::string domain, std::string value)) {
  const auto k1 = *genKey();
  const auto k2 = *genKey();
  RC_PRE(k1 != k2);
  auto ring = ringOf({{1, k1}, {2, k2}});
  const std::string p1 = Pseudonymiser::create(ring, 1).value().pseudonymise(domain, value).value();
  const std::string p2 = Pseudonymiser::create(ring, 2).value().pseudonymise(domain, value).value();
  RC_ASSERT(p1 != p2);
  // The MAC parts differ too, not only the epoch prefix.
  RC_ASSERT(p1.substr(p1.find(':')) != p2.substr(p2.find(':')));
}

RC_GTEST_PROP(Pseudonymiser, CannotBeRecomputedWithoutTheKey, (std::string domain, std::string value)) {
  // Someone who knows the value, the domain and the epoch but not the key (here: holds any
  // other key for that epoch) does not get the same pseudonym.
  const auto key = *genKey();
  const auto guess = *genKey();
  RC_PRE(key != guess);
  const std::string real = Pseudonymiser::create(ringOf({{5, key}}), 5).value().pseudonymise(domain, value).value();
  const std::string forged = Pseudonymiser::create(ringOf({{5, guess}}), 5).value().pseudonymise(domain, value).value();
  RC_ASSERT(real != forged);
}

}  // namespace
}  // namespace cordon::transform
