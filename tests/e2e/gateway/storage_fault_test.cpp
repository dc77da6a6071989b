// Issue 11, the gateway's database failing under it, end to end (the real cordon-gateway
// between three real Mosquitto brokers, cordon-sim publishing):
//
//  - Disk full: the state directory is a small tmpfs, mounted in a user + mount namespace
//    of its own (`unshare -r -m`, so no root is needed; the gateway joins it with
//    nsenter), filled up mid-run. Commits fail: each is logged with SQLite's reason and
//    counted (`commit_failures`), the gateway keeps running, nothing it could not commit
//    is sent, and once space returns it commits again; the frames of the failed commits
//    are audited as sequence gaps and every entry the log queued arrives.
//  - A database another process holds a write lock on (BEGIN EXCLUSIVE): at start-up the
//    gateway refuses, naming the file; while running it counts commit failures, audits
//    what it could not commit as a gap, and recovers when the lock goes.
//  - A corrupt database (garbage over its pages; a truncated file; garbage over its
//    header): start-up refuses with a message naming the file, and uploads nothing.
//
// docs/reliability.md, "Storage faults", says what each proves and what the gateway
// does; a gateway that sends an entry it did not commit, loses a frame without a gap
// record, dies on a full disk or starts on a corrupt file fails here.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "gateway/storage/sqlite_database.hpp"
#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/support/wait.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::future<Result<SimRun>> startSim(GatewayRun& run, double durationS) {
  return std::async(std::launch::async, [&run, durationS] {
    return run.runSim("city-commute", durationS, 17, {"--realtime", "--rate", "3"});
  });
}

std::size_t uploads(const GatewayRun& run) {
  return run.captured(BrokerRole::Domestic).size() + run.captured(BrokerRole::Overseas).size();
}

// The simulator's end, its truth, the gateway quiet and stopped cleanly (exit 0).
Result<Truth> finishRun(GatewayRun& run, std::future<Result<SimRun>>& sim) {
  auto simRun = sim.get();
  if (!simRun) return simRun.error();
  auto truth = readTruth(simRun.value().truth);
  if (!truth) return truth.error();
  if (auto quiet = waitForQuiet(run.gateway(), truth.value()); !quiet) {
    return Error{quiet.error().message + "\n" + run.gatewayLog()};
  }
  if (const auto exit = run.stopGateway(); exit != 0) {
    return Error{"the gateway's exit status: " + std::to_string(exit.value_or(-1)) + "\n" + run.gatewayLog()};
  }
  return truth;
}

// Waits (up to 60 s) for `more` commits after those `from` shows: the gateway commits again.
void expectCommitsResume(GatewayRun& run, const GatewayStatus& from, std::uint64_t more, std::string_view after) {
  const std::uint64_t commitsThen = from.commits;
  auto committing =
      run.waitForStatus([&](const GatewayStatus& s) { return s.commits >= commitsThen + more; }, 60s);
  ASSERT_TRUE(committing.ok()) << "no commit after " << after << ": " << committing.error().message << "\n"
                               << run.gatewayLog();
}

// After a run with commit failures: the log accounts for every frame (judged or in a
// gap record, never both), every upload is audited, every queued entry arrived, the
// chain verifies. Returns the frames lost to the failures.
std::size_t expectEverythingAccountedFor(GatewayRun& run, const Truth& truth, const fs::path& db,
                                         const fs::path& publicKey) {
  auto audit = readAudit(db);
  EXPECT_TRUE(audit.ok()) << audit.error().message;
  if (!audit.ok()) return 0;
  const AuditFacts& facts = audit.value();
  const auto lost = expectJudgedOrAudited(truth, facts);
  const auto endpoints = targets(run);
  expectNoUnauditedUpload(run, endpoints, facts);
  expectQueuedReachedOrEvicted(run, endpoints, facts);
  const ToolRun verified = verifyAudit(db, publicKey);
  EXPECT_EQ(verified.exit, 0) << verified;
  return lost.size();
}

// ---------------------------------------------------------------- disk full

// A user + mount namespace holding a tmpfs of `sizeMib` over `mountPoint`, kept alive by
// a sleeping process; processes join it with prefix(), the test reaches its files
// through /proc/<pid>/root (view()).
class SmallFilesystem {
 public:
  static Result<std::unique_ptr<SmallFilesystem>> create(const fs::path& mountPoint, int sizeMib,
                                                         const fs::path& scratch) {
    fs::create_directories(mountPoint);
    const fs::path ready = scratch / "tmpfs-ready";
    const std::string script = "mount -t tmpfs -o size=" + std::to_string(sizeMib) + "m cordon-e2e '" +
                               mountPoint.string() + "' && touch '" + ready.string() + "' && exec sleep 3600";
    auto holder = ChildProcess::start("/usr/bin/unshare", {"-r", "-m", "/bin/sh", "-c", script}, scratch / "tmpfs.log");
    if (!holder) return holder.error();
    std::unique_ptr<SmallFilesystem> fsys(new SmallFilesystem(std::move(holder).value(), mountPoint));
    if (!waitUntil([&] { return fs::exists(ready) || !fsys->holder_->running(); }, 20s) || !fs::exists(ready)) {
      return Error{"unshare -r -m with a tmpfs did not come up: " + fsys->holder_->log()};
    }
    return fsys;
  }
  ~SmallFilesystem() {
    (void)holder_->signal(SIGKILL);
    holder_->wait(5s);
  }
  std::vector<std::string> prefix() const {
    return {"/usr/bin/nsenter", "-t", std::to_string(holder_->pid()), "-U", "-m", "--preserve-credentials"};
  }
  // `path` (under the mount point) as the namespace sees it.
  fs::path view(const fs::path& path) const {
    return fs::path("/proc") / std::to_string(holder_->pid()) / "root" / path.relative_path();
  }
  // A copy of the database `db` (under the mount point) and its WAL, in `to`: SQLite
  // resolves the /proc/<pid>/root link to the host's view, where the file is not.
  fs::path copyOut(const fs::path& db, const fs::path& to) const {
    fs::create_directories(to);
    const fs::path copy = to / db.filename();
    for (const std::string suffix : {"", "-wal"}) {
      fs::remove(copy.string() + suffix);
      const fs::path from = view(db.string() + suffix);
      if (fs::exists(from)) fs::copy_file(from, copy.string() + suffix);
    }
    return copy;
  }

 private:
  SmallFilesystem(std::unique_ptr<ChildProcess> holder, fs::path mountPoint)
      : holder_(std::move(holder)), mountPoint_(std::move(mountPoint)) {}
  std::unique_ptr<ChildProcess> holder_;
  fs::path mountPoint_;
};

// Writes zeros to `file` until the filesystem refuses; the bytes written.
std::uintmax_t fillUp(const fs::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::vector<char> block(64 * 1024, 0);
  std::uintmax_t written = 0;
  std::size_t n = 0;
  while ((n = std::fwrite(block.data(), 1, block.size(), f)) > 0) {
    written += n;
    if (n < block.size()) break;
  }
  std::fclose(f);
  return written;
}

TEST(GatewayStorageFault, DiskFullCountsFailuresSendsNothingUncommittedAndRecovers) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const fs::path state = run.dir() / "state";
  auto small = SmallFilesystem::create(state, 16, run.dir().path());
  ASSERT_TRUE(small.ok()) << small.error().message;
  run.gateway().setCommandPrefix(small.value()->prefix());
  const fs::path db = small.value()->view(state / "cordon.db");
  const auto copyOfDb = [&](std::string_view name) {
    return small.value()->copyOut(state / "cordon.db", run.dir() / name);
  };
  const fs::path ballast = small.value()->view(state / "ballast");
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();
  ASSERT_TRUE(fs::exists(db)) << "the gateway's database is not on the small filesystem: " << db;

  auto sim = startSim(run, 25);
  auto flowing = run.waitForStatus([](const GatewayStatus& s) { return s.ingestFrames >= 100; }, 60s);
  ASSERT_TRUE(flowing.ok()) << flowing.error().message;
  const std::uintmax_t filled = fillUp(ballast);
  ASSERT_GT(filled, 0U);
  auto failing = run.waitForStatus([](const GatewayStatus& s) { return s.commitFailures >= 3; }, 60s);
  ASSERT_TRUE(failing.ok()) << "no commit failed on a full disk: " << failing.error().message << "\n"
                            << run.gatewayLog();
  // Still running, still taking frames in; the log says why it cannot commit.
  const std::uint64_t framesWhenFull = failing.value().ingestFrames;
  auto stillTaking = run.waitForStatus(
      [&](const GatewayStatus& s) { return s.state == "running" && s.ingestFrames >= framesWhenFull + 50; }, 60s);
  ASSERT_TRUE(stillTaking.ok()) << stillTaking.error().message;
  EXPECT_NE(run.gatewayLog().find("disk is full"), std::string::npos) << run.gatewayLog();
  {
    // Nothing it could not commit has left: everything the brokers got is in the log.
    auto audit = readAudit(copyOfDb("while-full"));
    ASSERT_TRUE(audit.ok()) << audit.error().message;
    expectNoUnauditedUpload(run, targets(run), audit.value());
  }

  fs::remove(ballast);
  const std::uint64_t failuresThen = stillTaking.value().commitFailures;
  expectCommitsResume(run, stillTaking.value(), 5, "space returned");
  if (::testing::Test::HasFatalFailure()) return;

  auto truth = finishRun(run, sim);
  ASSERT_TRUE(truth.ok()) << truth.error().message;
  const std::size_t lost =
      expectEverythingAccountedFor(run, truth.value(), copyOfDb("after"), run.dir() / "keys/audit-signing.pub.pem");
  EXPECT_GT(lost, 0U) << "the full disk cost no frame: the test did not fill it while frames flowed";
  std::cout << "[ disk full] " << truth.value().frames.size() << " frames; " << failuresThen
            << " commit failures while full (" << filled / 1024 << " KiB of ballast); " << lost
            << " frames lost, all in sequence-gap records\n";
}

// ---------------------------------------------------------------- locked

// Another process's write lock: this test process's own connection (SQLite's locks are
// the file's, so the gateway process sees them as any other process's).
class WriteLock {
 public:
  static Result<std::unique_ptr<WriteLock>> take(const fs::path& file) {
    storage::OpenOptions options;
    options.busyTimeoutMs = 10'000;
    auto db = storage::Database::open(file, options);
    if (!db) return db.error();
    if (Status s = db.value()->exec("BEGIN EXCLUSIVE"); !s) return Error{s.message()};
    return std::unique_ptr<WriteLock>(new WriteLock(std::move(db).value()));
  }
  ~WriteLock() { (void)db_->exec("ROLLBACK"); }

 private:
  explicit WriteLock(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<storage::Database> db_;
};

TEST(GatewayStorageFault, LockedDatabaseRefusesStartUpOrCountsFailuresAndRecovers) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const fs::path db = run.dir() / "state/cordon.db";
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();
  auto sim = startSim(run, 20);
  auto flowing = run.waitForStatus([](const GatewayStatus& s) { return s.ingestFrames >= 100; }, 60s);
  ASSERT_TRUE(flowing.ok()) << flowing.error().message;

  std::uint64_t failuresWhileLocked = 0;
  {
    auto lock = WriteLock::take(db);
    ASSERT_TRUE(lock.ok()) << lock.error().message;
    auto failing = run.waitForStatus([](const GatewayStatus& s) { return s.commitFailures >= 2; }, 90s);
    ASSERT_TRUE(failing.ok()) << "no commit failed while the database was locked: " << failing.error().message;
    failuresWhileLocked = failing.value().commitFailures;
    EXPECT_NE(run.gatewayLog().find("locked"), std::string::npos) << run.gatewayLog();
    EXPECT_TRUE(run.gatewayRunning());
  }
  auto recovered = run.waitForStatus(
      [&](const GatewayStatus& s) { return s.commits > 0 && s.commitFailures == failuresWhileLocked; }, 60s);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  expectCommitsResume(run, recovered.value(), 5, "the lock went");
  if (::testing::Test::HasFatalFailure()) return;

  auto truth = finishRun(run, sim);
  ASSERT_TRUE(truth.ok()) << truth.error().message;
  const std::size_t lost =
      expectEverythingAccountedFor(run, truth.value(), db, run.dir() / "keys/audit-signing.pub.pem");

  // Start-up under the lock: refused, naming the file.
  {
    auto lock = WriteLock::take(db);
    ASSERT_TRUE(lock.ok()) << lock.error().message;
    const std::size_t before = uploads(run);
    const ToolRun refused = run.runGatewayToExit(run.writeConfig("locked.json"), {}, 60s);
    EXPECT_NE(refused.exit, 0) << refused;
    EXPECT_NE(refused.exit, -1) << "still running under the lock: " << refused;
    EXPECT_NE(refused.err.find(db.string()), std::string::npos) << "the refusal does not name the file: " << refused;
    EXPECT_NE(refused.err.find("locked"), std::string::npos) << refused;
    EXPECT_EQ(uploads(run), before);
  }
  std::cout << "[ locked   ] " << truth.value().frames.size() << " frames; " << failuresWhileLocked
            << " commit failures under the lock; " << lost << " frames lost, all in sequence-gap records\n";
}

// ---------------------------------------------------------------- corrupt

// The pages of table `table` in `db` (SQLite's dbstat virtual table; Debian's libsqlite3
// is built with SQLITE_ENABLE_DBSTAT_VTAB) and the page size, from a read-only connection.
struct TablePages {
  std::vector<std::int64_t> pages;  // page numbers, from 1
  std::int64_t pageSize = 0;
};
Result<TablePages> tablePages(const fs::path& db, std::string_view table) {
  storage::OpenOptions options;
  options.readOnly = true;
  auto open = storage::Database::open(db, options);
  if (!open) return open.error();
  TablePages out;
  auto size = open.value()->prepare("PRAGMA page_size");
  if (!size) return size.error();
  if (auto row = size->step(); !row || !row.value()) return Error{"PRAGMA page_size gave no row"};
  out.pageSize = size->int64(0);
  auto pages = open.value()->prepare("SELECT pageno FROM dbstat WHERE name = ?1 ORDER BY pageno");
  if (!pages) return Error{"no dbstat virtual table in this SQLite: " + pages.error().message};
  pages->bind(1, table);
  for (auto row = pages->step();; row = pages->step()) {
    if (!row) return row.error();
    if (!row.value()) break;
    out.pages.push_back(pages->int64(0));
  }
  return out;
}

// Copies `from` (a cleanly closed database: no WAL) to `to` and damages it; `page` (from
// 1, of `pageSize` bytes) is the one AuditPageGarbage overwrites.
enum class Damage : std::uint8_t { PagesGarbage, AuditPageGarbage, Truncated, HeaderGarbage };

void damage(const fs::path& from, const fs::path& to, Damage how, std::int64_t page = 0, std::int64_t pageSize = 0) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  const auto size = fs::file_size(to);
  std::mt19937 rng(42);
  switch (how) {
    case Damage::PagesGarbage:
    case Damage::AuditPageGarbage: {
      // Every page after the first (the header and the schema's page stay readable), or
      // one page of the audit records.
      std::fstream f(to, std::ios::in | std::ios::out | std::ios::binary);
      const bool one = how == Damage::AuditPageGarbage;
      const std::uintmax_t first = one ? static_cast<std::uintmax_t>((page - 1) * pageSize) : 4096;
      const std::uintmax_t last = one ? first + static_cast<std::uintmax_t>(pageSize) : size;
      f.seekp(static_cast<std::streamoff>(first));
      for (std::uintmax_t i = first; i < last; ++i) f.put(static_cast<char>(rng()));
      break;
    }
    case Damage::Truncated: fs::resize_file(to, size / 2); break;
    case Damage::HeaderGarbage: {
      std::fstream f(to, std::ios::in | std::ios::out | std::ios::binary);
      for (int i = 0; i < 100; ++i) f.put(static_cast<char>(rng()));
      break;
    }
  }
}

TEST(GatewayStorageFault, CorruptDatabaseIsRefusedAtStartUpNamingTheFile) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const Status started = run.startGateway();
  ASSERT_TRUE(started.ok()) << started.message();
  auto simRun = run.runSim("city-commute", 5, 19, {"--rate", "3"});
  ASSERT_TRUE(simRun.ok()) << simRun.error().message;
  ASSERT_TRUE(run.waitForDrain(simRun.value()).ok()) << run.gatewayLog();
  ASSERT_EQ(run.stopGateway(), 0) << run.gatewayLog();
  const fs::path good = run.dir() / "state/cordon.db";
  ASSERT_FALSE(fs::exists(good.string() + "-wal") && fs::file_size(good.string() + "-wal") > 0)
      << "the clean stop left a WAL";
  ASSERT_GT(fs::file_size(good), 6U * 4096U);

  // Garbage over a page start-up does not read (old audit records): the gateway does not
  // scan the whole file (docs/reliability.md, "Storage faults"), the review tool does. The
  // page is one that holds audit records (dbstat), not wherever the middle of the file is:
  // since write-behind that is often a free page nothing reads.
  {
    auto audit = tablePages(good, "audit_records");
    ASSERT_TRUE(audit.ok()) << audit.error().message;
    ASSERT_FALSE(audit.value().pages.empty()) << "no page of audit_records in " << good;
    const std::int64_t page = audit.value().pages[audit.value().pages.size() / 2];
    ASSERT_GT(page, 1) << "page 1 is the schema's";
    const fs::path bad = run.dir() / "state/audit-page-garbage.db";
    damage(good, bad, Damage::AuditPageGarbage, page, audit.value().pageSize);
    const ToolRun verified = verifyAudit(bad, run.dir() / "keys/audit-signing.pub.pem");
    EXPECT_NE(verified.exit, 0) << "garbage over page " << page << " of audit_records (of "
                                << audit.value().pages.size() << ") verified: " << verified;
    const bool malformed = verified.err.find("malformed") != std::string::npos &&
                           verified.err.find(bad.string()) != std::string::npos;
    const bool notIntact = verified.out.find("NOT INTACT") != std::string::npos;
    EXPECT_TRUE(malformed || notIntact) << "verify refused without naming the file as malformed or the first bad "
                                           "record: "
                                        << verified;
    std::cout << "[ corrupt  ] page " << page << " (one of audit_records' " << audit.value().pages.size()
              << "): verify exit "
              << verified.exit << ": " << (malformed ? verified.err.substr(0, verified.err.find('\n')) : verified.out)
              << "\n";
  }
  const std::size_t before = uploads(run);
  const std::pair<Damage, std::string> cases[] = {
      {Damage::PagesGarbage, "pages-garbage"}, {Damage::Truncated, "truncated"}, {Damage::HeaderGarbage, "header"}};
  for (const auto& [how, name] : cases) {
    SCOPED_TRACE(name);
    const fs::path bad = run.dir() / "state" / (name + ".db");
    damage(good, bad, how);
    run.config().at("outbox").as_object()["path"] = bad.string();
    const ToolRun refused = run.runGatewayToExit(run.writeConfig(name + ".json"), {}, 60s);
    EXPECT_NE(refused.exit, 0) << refused;
    EXPECT_NE(refused.exit, -1) << "it ran on a corrupt database: " << refused;
    EXPECT_NE(refused.err.find(bad.string()), std::string::npos) << "the refusal does not name the file: " << refused;
    // The review tool refuses it too.
    const ToolRun verified = verifyAudit(bad, run.dir() / "keys/audit-signing.pub.pem");
    EXPECT_NE(verified.exit, 0) << verified;
    std::cout << "[ corrupt  ] " << name << ": " << refused.err.substr(0, refused.err.find('\n')) << "\n";
  }
  EXPECT_EQ(uploads(run), before) << "a gateway on a corrupt database uploaded something";
}

}  // namespace
}  // namespace cordon::test::e2e
