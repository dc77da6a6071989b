#pragma once
// The durable upload queue between encode and uplink (docs/architecture.md, "Outbox").
// Every entry gets its id inside the caller's SQLite transaction, beside its audit
// record, so an upload exists only if its record does; the gateway sends entries after
// the commit and reports what each endpoint acknowledged. Delivery is at least once: an
// entry leaves only once acknowledged (at the next flush) or evicted; whatever is still
// stored after a restart is sent again.
//
// Write-behind (OutboxOptions::writeBehind, decision 0005): the payload of a new entry
// is held in memory, not written, and is written ("spilled") only if it is still
// unacknowledged at the next flush, one commit later. Most entries are acknowledged
// within milliseconds, so their payloads never touch the flash. Which ids are held is
// saved in the commit, so after a crash the held entries are known lost:
// takeLostOnRestart() returns them, to be audited as evictions. Without write-behind
// every payload is written in the transaction that adds it.
//
// Contract:
//  - One Outbox per database, used from the thread that owns the database; it keeps a
//    reference to `db`, which must outlive it. Transactions are storage::Transaction.
//  - add(), evictOverCapacity(), takeLostOnRestart() and flush() write, and only inside a
//    transaction the caller has open (refused otherwise): the outbox never commits on its
//    own. After a transaction that rolled back, call resync() before anything else.
//  - Ids are one global sequence starting at 1, never reused (across restarts too).
//  - Memory is per endpoint: counters and the acknowledged ranges above the lowest
//    unacknowledged entry (a handful while a window is in flight); with write-behind also
//    the held payloads (what was added in the last two commits and is not acknowledged).
//  - Errors are values; nothing throws.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/storage/sqlite_database.hpp"

namespace cordon::outbox {

// What one stored row costs beyond its topic and payload bytes, for capacity: roughly
// SQLite's record header, cell pointer and (endpoint, id) index entry, so that many tiny
// entries cannot grow the file past what the capacity promises.
inline constexpr std::uint64_t kRowOverheadBytes = 32;

struct Entry {
  std::uint64_t id = 0;
  std::uint32_t endpoint = 0;
  std::string topicSuffix;
  std::vector<std::uint8_t> payload;
};

// What evictOverCapacity() removed from one endpoint: `count` entries, and they are every
// entry of that endpoint with an id in firstId..lastId (contiguous in the endpoint's
// sequence, not globally). An entry of the endpoint acknowledged out of order splits what
// went into two Evictions, so that no range hides an entry that was delivered.
struct Eviction {
  std::uint32_t endpoint = 0;
  std::uint64_t count = 0;
  std::uint64_t firstId = 0;
  std::uint64_t lastId = 0;
  std::uint64_t bytes = 0;  // as storedBytes() counts them

  friend bool operator==(const Eviction&, const Eviction&) = default;
};

struct OutboxOptions {
  std::uint64_t capacityBytes = 256ull << 20;
  // Endpoints in the order they give up their oldest entries when over capacity: the
  // gateway passes overseas endpoints first, domestic last (the domestic copy is the
  // regulatory record). Endpoints not listed come after the listed ones, lowest index first.
  std::vector<std::uint32_t> evictionOrder;
  // Hold new payloads in memory and write only those still unacknowledged one commit
  // later (see the top of this file). The gateway's default; off, every payload is
  // written at once and a crash loses none of what was committed.
  bool writeBehind = false;
};

class Outbox {
 public:
  // Creates the tables when missing; loads per-endpoint counts, bytes and the id
  // high-water marks from an existing file (a restart: every row still there is
  // unacknowledged and will be sent again). Refuses a zero capacity and an endpoint
  // listed twice in the eviction order.
  static Result<std::unique_ptr<Outbox>> open(storage::Database& db, OutboxOptions options);

  // Stores one payload for `endpoint` and returns its id. With write-behind, flush() must
  // run in the same transaction after the last add(): it saves which ids are held, and
  // without it a crash would lose them unaudited. Within one transaction the
  // gateway adds all of one endpoint's entries, then the next endpoint's, so each
  // endpoint's ids in a batch are contiguous: the audit records them as (endpoint,
  // first id, count).
  Result<std::uint64_t> add(std::uint32_t endpoint, std::string_view topicSuffix,
                            std::span<const std::uint8_t> payload);

  // While storedBytes() exceeds the capacity, deletes the oldest unacknowledged entries of
  // the first endpoint in eviction order that has any, then of the next. Returns what
  // went, in that order (the caller audits it in the same transaction). Entries in
  // flight may go too; their later acknowledged() is a no-op. Also deletes the
  // acknowledged rows of each endpoint it evicts from, as flush() would.
  Result<std::vector<Eviction>> evictOverCapacity();

  // Entries that were held in memory (write-behind) when the process that added them
  // ended before spilling them: their audit records say queued, their payloads are gone.
  // Returns them once per open, as evictions (bytes 0: unknown), for the caller to audit
  // in the same transaction; the file keeps naming them until that transaction commits
  // (after a rollback and resync() they are returned again). Empty without a crash.
  Result<std::vector<Eviction>> takeLostOnRestart();

  // An endpoint acknowledged `id`. Applied in memory at once: pending() no longer returns
  // it, counts() drop, resolvedThrough() may move; the row is deleted at the next flush().
  // An unknown, evicted or already acknowledged id is a no-op. Reads the row (never
  // writes); if that read fails the acknowledgement is dropped (the entry will be sent
  // again) and the next flush() reports the error.
  void acknowledged(std::uint64_t id);

  // Deletes the rows acknowledged since the last flush, spills held payloads added before
  // this transaction and still unacknowledged, and saves each endpoint's high id, held and
  // acknowledged ranges. Call it in every commit
  // transaction, the one that also records AuditLog::acknowledge(endpoint,
  // resolvedThrough()), so acknowledgements cost no transaction of their own and the
  // watermark and the deletes commit together. If that transaction rolls back, call
  // resync(): the acknowledgements are kept and deleted at the following flush().
  enum class Spill {
    Older,  // held payloads added before this transaction (every commit)
    All,    // every held payload (the last commit before a clean stop)
  };
  Status flush(Spill spill = Spill::Older);

  // Reloads the in-memory state from the tables, then re-applies the acknowledgements not
  // known to be committed (those whose rows are still there). The outbox takes the first
  // call it sees outside a transaction without a resync() before it to mean that the
  // transaction before committed.
  Status resync();

  // Up to `max` stored, unacknowledged entries of `endpoint` with id > afterId, oldest
  // first (the gateway keeps a send cursor per endpoint and skips ids it has in flight).
  Result<std::vector<Entry>> pending(std::uint32_t endpoint, std::uint64_t afterId, std::size_t max);

  // A watermark X for AuditLog::acknowledge(endpoint, X): every entry of this endpoint
  // with id <= X is acknowledged or evicted. It is the lowest unresolved id minus one (X
  // may then be another endpoint's id: only this endpoint's ids count), or, when nothing
  // is unresolved, the highest id the endpoint ever had; 0 when it had none. It never
  // moves backwards, also across a restart after the watermark and the deletes were
  // committed together (flush()).
  std::uint64_t resolvedThrough(std::uint32_t endpoint) const;

  struct EndpointCounts {
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;  // topic + payload + kRowOverheadBytes per entry
  };
  EndpointCounts counts(std::uint32_t endpoint) const;  // stored, not acknowledged

  // What the capacity is measured against: counts().bytes over every endpoint. Rows
  // acknowledged but not yet flushed do not count (the next flush deletes them).
  std::uint64_t storedBytes() const { return storedBytes_; }

 private:
  // Ids first..last (inclusive, global) within which every id of the endpoint is
  // acknowledged; all above the endpoint's floor.
  using AckedRanges = std::map<std::uint64_t, std::uint64_t>;

  struct EndpointState {
    std::uint64_t entries = 0;  // stored, unresolved
    std::uint64_t bytes = 0;
    std::uint64_t floor = 0;   // lowest unresolved id; 0 when none
    std::uint64_t highId = 0;  // highest id ever added
    AckedRanges acked;
    // What outbox_endpoints holds for it, to skip writes that change nothing.
    std::uint64_t savedHighId = 0;
    std::string savedAcked;
    std::string savedHeld;
    // Held ids the file named at open that this process never held: lost in a crash,
    // until takeLostOnRestart() hands them over.
    AckedRanges lost;
  };

  // A write-behind entry while its payload is in memory. The serials are the database's
  // transactionSerial() of the transaction that did it; 0 when not done yet.
  struct Held {
    std::uint32_t endpoint = 0;
    std::string topicSuffix;
    std::vector<std::uint8_t> payload;
    std::uint64_t addedIn = 0;
    std::uint64_t spilledIn = 0;  // its row was written (then the row is the entry)
    std::uint64_t flushedIn = 0;  // acknowledged, and the flush after it ran
    std::uint64_t evictedIn = 0;  // given up over capacity before it was written
    bool acked = false;
    // Only in memory and neither acknowledged nor evicted: to be sent, spilled or evicted.
    bool unresolvedInMemory() const { return spilledIn == 0 && !acked && evictedIn == 0; }
  };

  Outbox(storage::Database& db, OutboxOptions options) : db_(db), options_(std::move(options)) {}
  Status addHeldColumn();
  Status load();
  Status requireWritable(std::string_view what) const;
  Status applyAck(std::uint64_t id);
  static bool isResolved(const EndpointState& state, std::uint64_t id);
  Result<std::uint64_t> nextUnresolved(std::uint32_t endpoint, const EndpointState& state, std::uint64_t after);
  Result<bool> anyStoredBetween(std::uint32_t endpoint, std::uint64_t after, std::uint64_t before);
  Status moveFloor(std::uint32_t endpoint, EndpointState& state, std::uint64_t after);
  Status splitAroundStored(std::uint32_t endpoint, EndpointState& state);
  Status save(std::uint32_t endpoint, EndpointState& state);
  Status deleteAcknowledged(std::optional<std::uint32_t> onlyEndpoint, std::set<std::uint32_t>& touched);
  void settle();
  bool memoryOnly(std::uint64_t id) const;
  std::uint64_t lowestHeldUnresolved(std::uint32_t endpoint, std::uint64_t after) const;
  Status spillHeld(Spill spill);
  std::string heldRanges(std::uint32_t endpoint, const EndpointState& state) const;
  Result<std::vector<Eviction>> evictFrom(std::uint32_t endpoint, EndpointState& state);
  std::vector<std::uint32_t> evictionSequence() const;

  storage::Database& db_;
  OutboxOptions options_;
  std::map<std::uint32_t, EndpointState> endpoints_;
  std::uint64_t storedBytes_ = 0;
  std::uint64_t nextId_ = 1;
  struct Acknowledgement {
    std::uint64_t id = 0;
    std::uint32_t endpoint = 0;
  };
  std::vector<Acknowledgement> unflushed_;  // rows acknowledged, not deleted yet
  // Rows deleted for acknowledgements in a transaction that may still roll back: cleared
  // at the next call outside a transaction, re-applied by resync().
  std::vector<Acknowledgement> uncommittedDeletes_;
  std::optional<std::string> brokenReason_;  // a failed read left memory unsure: resync()
  std::map<std::uint64_t, Held> held_;        // write-behind payloads, by id
  std::vector<std::uint64_t> toForget_;       // held ids spilled, flushed or evicted: settle() erases them
};

inline constexpr std::string_view kOutboxSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY,
  endpoint INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_endpoint ON outbox(endpoint, id);
CREATE TABLE IF NOT EXISTS outbox_endpoints(
  endpoint INTEGER PRIMARY KEY,
  high_id INTEGER NOT NULL,
  acked TEXT NOT NULL,
  held TEXT NOT NULL DEFAULT '');
)sql";

}  // namespace cordon::outbox
