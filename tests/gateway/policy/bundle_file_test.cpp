// Signed bundles: what a vehicle accepts and what it refuses (bad or missing
// signature, another key, damaged bytes, an older version, a past valid_until), and
// the registry-prefix check frames go through.
#include <gtest/gtest.h>

#include "gateway/policy/bundle_file.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::policy::test {
namespace {

class Bundles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CompileResult result = compileFile(kPolicies / "cn-auto-2026.json", [] {
      CompileOptions o;
      o.reviewWildcardOrdinary = false;
      return o;
    }());
    ASSERT_TRUE(result.ok()) << allDiagnostics(result);
    unsignedFile_ = new std::vector<std::uint8_t>(unsignedBundleFile(result.bundle));
  }
  static void TearDownTestSuite() { delete unsignedFile_; }

  BundleRequirements requirements(const Ed25519Key& key) const {
    BundleRequirements r;
    r.trustedKey = &key;
    r.now = kNow;
    r.clockSynchronised = true;
    return r;
  }

  Ed25519Key key_ = Ed25519Key::generate().value();
  static std::vector<std::uint8_t>* unsignedFile_;
};
std::vector<std::uint8_t>* Bundles::unsignedFile_ = nullptr;

TEST_F(Bundles, ASignedBundleVerifiesAndLoads) {
  auto signedFile = signBundleFile(*unsignedFile_, key_);
  ASSERT_TRUE(signedFile.ok()) << signedFile.error().message;
  EXPECT_TRUE(verifyBundleSignature(signedFile.value(), key_).ok());
  auto policy = loadBundle(signedFile.value(), requirements(key_));
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy.value()->name(), "cn-auto-2026");
  EXPECT_EQ(policy.value()->version(), 1u);
  auto opened = openBundleFile(signedFile.value());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->keyId, key_.keyId());
}

TEST_F(Bundles, UnsignedBundlesAreRefused) {
  auto policy = loadBundle(*unsignedFile_, requirements(key_));
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("not signed"), std::string::npos) << policy.error().message;
  BundleRequirements noKey = requirements(key_);
  noKey.trustedKey = nullptr;
  EXPECT_FALSE(loadBundle(*unsignedFile_, noKey).ok());
}

TEST_F(Bundles, AnotherKeysSignatureIsRefused) {
  const Ed25519Key other = Ed25519Key::generate().value();
  auto signedFile = signBundleFile(*unsignedFile_, other).value();
  auto policy = loadBundle(signedFile, requirements(key_));
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("signed by key " + other.keyId()), std::string::npos) << policy.error().message;
}

TEST_F(Bundles, EveryAlteredByteOfThePolicyIsDetected) {
  const auto signedFile = signBundleFile(*unsignedFile_, key_).value();
  const auto opened = openBundleFile(signedFile).value();
  // Flip bytes spread over the nested bundle: each one must fail signature or structure.
  const auto start = static_cast<std::size_t>(
      std::search(signedFile.begin(), signedFile.end(), opened.bundle.begin(), opened.bundle.begin() + 64) -
      signedFile.begin());
  ASSERT_LT(start, signedFile.size());
  for (std::size_t offset = 0; offset < opened.bundle.size(); offset += opened.bundle.size() / 97 + 1) {
    auto altered = signedFile;
    altered[start + offset] ^= 0x01;
    EXPECT_FALSE(loadBundle(altered, requirements(key_)).ok()) << "flipped byte at " << offset;
  }
  auto badSignature = signedFile;
  const auto sigPos = static_cast<std::size_t>(
      std::search(badSignature.begin(), badSignature.end(), opened.signature.begin(), opened.signature.end()) -
      badSignature.begin());
  badSignature[sigPos + 10] ^= 0x80;
  auto refused = loadBundle(badSignature, requirements(key_));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("does not verify"), std::string::npos) << refused.error().message;
}

TEST_F(Bundles, DamagedOrForeignFilesAreRefused) {
  EXPECT_FALSE(openBundleFile(std::vector<std::uint8_t>{}).ok());
  EXPECT_FALSE(openBundleFile(std::vector<std::uint8_t>(100, 0x42)).ok());
  auto truncated = *unsignedFile_;
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(openBundleFile(truncated).ok());
}

TEST_F(Bundles, AnOlderVersionIsRefused) {
  const auto signedFile = signBundleFile(*unsignedFile_, key_).value();
  BundleRequirements r = requirements(key_);
  r.minVersion = 2;
  auto policy = loadBundle(signedFile, r);
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("older than version 2"), std::string::npos) << policy.error().message;
  r.minVersion = 1;
  EXPECT_TRUE(loadBundle(signedFile, r).ok()) << "the same version reloads (SIGHUP)";
  const auto running = loadBundle(signedFile, r).value();
  r.currentPolicyHash = running->policyHash();
  EXPECT_TRUE(loadBundle(signedFile, r).ok()) << "the same version of the same policy";
}

TEST_F(Bundles, TheSameVersionWithADifferentPolicyIsRefused) {
  // The strict profile shares version 1 with its base: a vehicle running one must not
  // take the other as "the same version".
  CompileOptions o;
  o.reviewWildcardOrdinary = false;
  const auto strict = compileFile(kPolicies / "cn-auto-2026-strict.json", o);
  ASSERT_TRUE(strict.ok());
  const auto strictFile = signBundleFile(unsignedBundleFile(strict.bundle), key_).value();
  const auto running = CompiledPolicy::fromBundleBytes(openBundleFile(*unsignedFile_).value().bundle).value();
  BundleRequirements r = requirements(key_);
  r.minVersion = running->version();
  r.currentPolicyHash = running->policyHash();
  auto refused = loadBundle(strictFile, r);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("holds a different policy"), std::string::npos) << refused.error().message;
}

TEST_F(Bundles, AnExpiredBundleIsRefusedOnASynchronisedClock) {
  const auto signedFile = signBundleFile(*unsignedFile_, key_).value();
  BundleRequirements r = requirements(key_);
  r.now = parseUtc("2027-06-30T00:00:00Z").value();
  auto policy = loadBundle(signedFile, r);
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("expired at 2027-06-30T00:00:00Z"), std::string::npos) << policy.error().message;
  // Unsynchronised, the clock cannot judge; the bundle loads and every basis counts as
  // expired in the decision engine.
  r.clockSynchronised = false;
  EXPECT_TRUE(loadBundle(signedFile, r).ok());
}

TEST_F(Bundles, FramesFromARegistryPrefixAreAcceptedOthersRefused) {
  const auto policy = CompiledPolicy::fromBundleBytes(openBundleFile(*unsignedFile_).value().bundle).value();
  const auto registry = ecu::Registry::builtin();
  EXPECT_TRUE(policy->acceptsRegistry(registry->version()));
  EXPECT_TRUE(policy->acceptsRegistry(registry->versionAt(43)));
  EXPECT_TRUE(policy->acceptsRegistry(registry->versionAt(0)));
  EXPECT_FALSE(policy->acceptsRegistry({registry->version().count, registry->version().hash ^ 1}));
  EXPECT_FALSE(policy->acceptsRegistry({registry->version().count + 1, registry->version().hash}));
}

TEST_F(Bundles, KeysRoundTripThroughPem) {
  cordon::test::ScratchDir dir("cordon-keys");
  const auto privateFile = dir.write("k.pem", key_.privatePem());
  const auto publicFile = dir.write("k.pub", key_.publicPem());
  auto privateKey = Ed25519Key::fromPemFile(privateFile);
  auto publicKey = Ed25519Key::fromPemFile(publicFile);
  ASSERT_TRUE(privateKey.ok()) << privateKey.error().message;
  ASSERT_TRUE(publicKey.ok()) << publicKey.error().message;
  EXPECT_TRUE(privateKey->hasPrivate());
  EXPECT_FALSE(publicKey->hasPrivate());
  EXPECT_EQ(publicKey->keyId(), key_.keyId());
  const auto signedFile = signBundleFile(*unsignedFile_, privateKey.value()).value();
  EXPECT_TRUE(verifyBundleSignature(signedFile, publicKey.value()).ok());
  EXPECT_FALSE(signBundleFile(*unsignedFile_, publicKey.value()).ok()) << "a public key cannot sign";
  EXPECT_FALSE(Ed25519Key::fromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "junk").ok());
}

}  // namespace
}  // namespace cordon::policy::test
