#include "gateway/outbox/outbox.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace cordon::outbox {
namespace {

// The size the capacity counts for a row, computed by SQLite from the row itself (topic
// in bytes, not characters).
constexpr std::string_view kRowSize = "length(CAST(topic AS BLOB)) + length(payload)";

std::int64_t sql(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t u64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

// Steps through the rows, calling `row` for each until it returns false.
template <typename Row>
Status eachRow(storage::Statement& statement, Row&& row) {
  for (;;) {
    auto more = statement.step();
    if (!more) return more.error();
    if (!more.value() || !row()) return Status::success();
  }
}

// Acknowledged ranges as text ("3-5,9-9"): a handful of them, and readable with the
// sqlite3 shell when someone asks why an entry was not resent.
std::string encodeRanges(const std::map<std::uint64_t, std::uint64_t>& ranges) {
  std::string text;
  for (const auto& [first, last] : ranges) {
    if (!text.empty()) text += ',';
    text += std::to_string(first) + '-' + std::to_string(last);
  }
  return text;
}

std::optional<std::map<std::uint64_t, std::uint64_t>> decodeRanges(std::string_view text) {
  std::map<std::uint64_t, std::uint64_t> ranges;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p != end) {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    auto a = std::from_chars(p, end, first);
    if (a.ec != std::errc() || a.ptr == end || *a.ptr != '-') return std::nullopt;
    auto b = std::from_chars(a.ptr + 1, end, last);
    if (b.ec != std::errc() || last < first) return std::nullopt;
    ranges[first] = last;
    p = b.ptr;
    if (p != end && *p++ != ',') return std::nullopt;
  }
  return ranges;
}

// Whether an acknowledged range holds `id`.
bool inRange(const std::map<std::uint64_t, std::uint64_t>& ranges, std::uint64_t id) {
  const auto after = ranges.upper_bound(id);
  return after != ranges.begin() && std::prev(after)->second >= id;
}

// Whether a range starts strictly between two ids that no range holds.
bool rangeBetween(const std::map<std::uint64_t, std::uint64_t>& ranges, std::uint64_t low, std::uint64_t high) {
  return ranges.upper_bound(low) != ranges.upper_bound(high);
}

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::open(storage::Database& db, OutboxOptions options) {
  if (options.capacityBytes == 0) return Error{"outbox: capacity_bytes must be greater than 0"};
  std::set<std::uint32_t> listed;
  for (const std::uint32_t endpoint : options.evictionOrder) {
    if (!listed.insert(endpoint).second) {
      return Error{"outbox: endpoint " + std::to_string(endpoint) + " is listed twice in the eviction order"};
    }
  }
  std::unique_ptr<Outbox> outbox(new Outbox(db, std::move(options)));
  if (Status s = db.exec(kOutboxSchema); !s) return Error{"outbox: " + s.message()};
  if (Status s = outbox->addHeldColumn(); !s) return Error{"outbox: " + s.message()};
  if (Status s = outbox->load(); !s) return Error{"outbox: " + s.message()};
  return outbox;
}

// Files written before write-behind existed have no `held` column; nothing was held then.
Status Outbox::addHeldColumn() {
  auto columns = db_.prepare("SELECT 1 FROM pragma_table_info('outbox_endpoints') WHERE name = 'held'");
  if (!columns) return columns.error();
  auto found = columns->step();
  if (!found) return found.error();
  if (found.value()) return Status::success();
  return db_.exec("ALTER TABLE outbox_endpoints ADD COLUMN held TEXT NOT NULL DEFAULT ''");
}

Status Outbox::load() {
  endpoints_.clear();
  storedBytes_ = 0;
  auto totals = db_.prepare("SELECT endpoint, count(*), sum(" + std::string(kRowSize) +
                            "), min(id), max(id) FROM outbox GROUP BY endpoint");
  if (!totals) return totals.error();
  Status s = eachRow(totals.value(), [&] {
    EndpointState& state = endpoints_[static_cast<std::uint32_t>(totals->int64(0))];
    state.entries = u64(totals->int64(1));
    state.bytes = u64(totals->int64(2)) + state.entries * kRowOverheadBytes;
    state.floor = u64(totals->int64(3));  // after a restart nothing stored is acknowledged
    state.highId = u64(totals->int64(4));
    storedBytes_ += state.bytes;
    return true;
  });
  if (!s) return s;
  // Held payloads still in memory (a resync() after a rollback): entries like the rows.
  for (const auto& [id, held] : held_) {
    if (held.spilledIn != 0 || held.evictedIn != 0) continue;  // its row was counted above, or gone
    EndpointState& state = endpoints_[held.endpoint];
    const std::uint64_t bytes = held.topicSuffix.size() + held.payload.size() + kRowOverheadBytes;
    state.entries += 1;
    state.bytes += bytes;
    storedBytes_ += bytes;
    state.highId = std::max(state.highId, id);
    if (state.floor == 0 || id < state.floor) state.floor = id;
  }

  auto saved = db_.prepare("SELECT endpoint, high_id, acked, held FROM outbox_endpoints");
  if (!saved) return saved.error();
  std::optional<std::pair<std::uint32_t, std::string_view>> malformed;  // endpoint, column
  s = eachRow(saved.value(), [&] {
    const auto endpoint = static_cast<std::uint32_t>(saved->int64(0));
    EndpointState& state = endpoints_[endpoint];
    state.savedHighId = u64(saved->int64(1));
    state.savedAcked = saved->text(2);
    state.highId = std::max(state.highId, state.savedHighId);
    auto ranges = decodeRanges(state.savedAcked);
    state.savedHeld = saved->text(3);
    auto held = decodeRanges(state.savedHeld);
    if (!ranges || !held) malformed = {endpoint, ranges ? "held" : "acked"};
    state.acked = ranges ? std::move(*ranges) : AckedRanges{};
    // What the file says is held and this process does not hold was lost with the memory
    // of the process before it.
    for (const auto& [first, last] : held ? *held : AckedRanges{}) {
      std::uint64_t from = first;
      for (auto it = held_.lower_bound(first); it != held_.end() && it->first <= last; ++it) {
        if (it->first > from) state.lost[from] = it->first - 1;
        from = it->first + 1;
      }
      if (from <= last) state.lost[from] = last;
    }
    return !malformed;
  });
  if (!s) return s;
  if (malformed) {
    return Error{"outbox_endpoints: malformed " + std::string(malformed->second) + " ranges for endpoint " +
                 std::to_string(malformed->first)};
  }

  for (auto& [endpoint, state] : endpoints_) {
    // Lost ids are resolved (by the eviction that audits them): an eviction range must not
    // span them as if they were still there.
    state.acked.insert(state.lost.begin(), state.lost.end());
    if (Status split = splitAroundStored(endpoint, state); !split) return split;
    nextId_ = std::max(nextId_, state.highId + 1);
  }
  return Status::success();
}

// Saved ranges are checked against the rows, not trusted: one over a stored row (a file
// edited by hand, or written by a bug) would keep that row from ever being sent. After a
// reload every stored row is unacknowledged, so the ranges are cut around them; what
// remains below the floor says nothing any more.
Status Outbox::splitAroundStored(std::uint32_t endpoint, EndpointState& state) {
  AckedRanges kept;
  for (const auto& [first, last] : state.acked) {
    auto inside = db_.prepare("SELECT id FROM outbox WHERE endpoint = ?1 AND id BETWEEN ?2 AND ?3 ORDER BY id");
    if (!inside) return inside.error();
    inside->bind(1, sql(endpoint)).bind(2, sql(first)).bind(3, sql(last));
    std::uint64_t from = first;
    Status s = eachRow(inside.value(), [&] {
      const std::uint64_t stored = u64(inside->int64(0));
      if (stored > from) kept[from] = stored - 1;
      from = stored + 1;
      return true;
    });
    if (!s) return s;
    if (from <= last) kept[from] = last;
  }
  std::erase_if(kept, [&](const auto& range) { return state.floor == 0 || range.second < state.floor; });
  state.acked = std::move(kept);
  return Status::success();
}

Status Outbox::requireWritable(std::string_view what) const {
  if (brokenReason_) return Error{"outbox: " + *brokenReason_ + " (resync() first)"};
  if (!db_.inTransaction()) return Error{"outbox: " + std::string(what) + " must run inside the caller's transaction"};
  return Status::success();
}

Result<std::uint64_t> Outbox::add(std::uint32_t endpoint, std::string_view topicSuffix,
                                  std::span<const std::uint8_t> payload) {
  settle();
  if (Status s = requireWritable("add()"); !s) return Error{s.message()};
  const std::uint64_t id = nextId_;
  if (options_.writeBehind) {
    held_[id] = Held{endpoint, std::string(topicSuffix), std::vector<std::uint8_t>(payload.begin(), payload.end()),
                     db_.transactionSerial()};
  } else {
    auto insert = db_.prepare("INSERT INTO outbox(id, endpoint, topic, payload) VALUES(?1, ?2, ?3, ?4)");
    if (!insert) return insert.error();
    insert->bind(1, sql(id)).bind(2, sql(endpoint)).bind(3, topicSuffix).bindBlob(4, payload);
    if (Status s = insert->run(); !s) return Error{"outbox: " + s.message()};
  }
  ++nextId_;
  EndpointState& state = endpoints_[endpoint];
  const std::uint64_t bytes = topicSuffix.size() + payload.size() + kRowOverheadBytes;
  state.entries += 1;
  state.bytes += bytes;
  storedBytes_ += bytes;
  state.highId = id;
  if (state.floor == 0) state.floor = id;
  return id;
}

bool Outbox::isResolved(const EndpointState& state, std::uint64_t id) {
  return state.floor == 0 || id < state.floor || inRange(state.acked, id);
}

// Called only outside the caller's transactions, so the one that deleted
// `uncommittedDeletes_` is over; since resync() did not come first, it committed.
// A held entry whose row was written, or whose acknowledgement was flushed, is done with
// once that transaction committed: when none is open any more, or a later one is.
void Outbox::settle() {
  const bool open = db_.inTransaction();
  if (!open) uncommittedDeletes_.clear();
  if (toForget_.empty()) return;  // every call does this: it must cost nothing then
  const std::uint64_t current = db_.transactionSerial();
  const auto committed = [&](std::uint64_t serial) { return serial != 0 && (!open || serial < current); };
  std::erase_if(toForget_, [&](std::uint64_t id) {
    const auto it = held_.find(id);
    if (it == held_.end()) return true;
    const Held& held = it->second;
    if (held.spilledIn == 0 && held.flushedIn == 0 && held.evictedIn == 0) return true;  // undone by resync()
    if (!committed(held.spilledIn) && !committed(held.flushedIn) && !committed(held.evictedIn)) return false;
    held_.erase(it);
    return true;
  });
}

bool Outbox::memoryOnly(std::uint64_t id) const {
  const auto it = held_.find(id);
  return it != held_.end() && it->second.spilledIn == 0;
}

// The lowest unacknowledged entry of the endpoint held only in memory above `after`; 0 if none.
std::uint64_t Outbox::lowestHeldUnresolved(std::uint32_t endpoint, std::uint64_t after) const {
  for (auto it = held_.upper_bound(after); it != held_.end(); ++it) {
    const Held& held = it->second;
    if (held.endpoint == endpoint && held.unresolvedInMemory()) return it->first;
  }
  return 0;
}

void Outbox::acknowledged(std::uint64_t id) {
  settle();
  if (brokenReason_) return;  // resync() re-applies what came before; this one is resent
  if (Status s = applyAck(id); !s) brokenReason_ = "acknowledging " + std::to_string(id) + ": " + s.message();
}

Status Outbox::applyAck(std::uint64_t id) {
  std::uint32_t endpoint = 0;
  std::uint64_t bytes = 0;
  Held* held = nullptr;
  if (memoryOnly(id)) {
    held = &held_.at(id);
    if (held->acked || held->evictedIn != 0) return Status::success();
    endpoint = held->endpoint;
    bytes = held->topicSuffix.size() + held->payload.size() + kRowOverheadBytes;
  } else {
    auto row = db_.prepare("SELECT endpoint, " + std::string(kRowSize) + " FROM outbox WHERE id = ?1");
    if (!row) return row.error();
    row->bind(1, sql(id));
    auto found = row->step();
    if (!found) return found.error();
    if (!found.value()) return Status::success();  // evicted, flushed, or never added
    endpoint = static_cast<std::uint32_t>(row->int64(0));
    bytes = u64(row->int64(1)) + kRowOverheadBytes;
  }
  EndpointState& state = endpoints_[endpoint];
  if (isResolved(state, id)) return Status::success();
  if (held != nullptr) held->acked = true;
  state.entries -= 1;
  state.bytes -= bytes;
  storedBytes_ -= bytes;
  unflushed_.push_back({id, endpoint});
  if (id == state.floor) return moveFloor(endpoint, state, id);

  // Above the floor: remember it as a range, merged with its neighbours when no
  // unresolved entry of the endpoint lies between (each gap holds one, so the ranges
  // stay about as many as the entries in flight).
  auto it = state.acked.emplace(id, id).first;
  if (it != state.acked.begin()) {
    const auto below = std::prev(it);
    auto between = anyStoredBetween(endpoint, below->second, id);
    if (!between) return between.error();
    if (!between.value()) {
      below->second = id;
      state.acked.erase(it);
      it = below;
    }
  }
  if (const auto above = std::next(it); above != state.acked.end()) {
    auto between = anyStoredBetween(endpoint, it->second, above->first);
    if (!between) return between.error();
    if (!between.value()) {
      it->second = above->second;
      state.acked.erase(above);
    }
  }
  return Status::success();
}

// Any stored row of the endpoint strictly between the two ids. Called only between
// acknowledged ranges above the floor, where every stored row is unresolved.
Result<bool> Outbox::anyStoredBetween(std::uint32_t endpoint, std::uint64_t after, std::uint64_t before) {
  auto probe = db_.prepare("SELECT 1 FROM outbox WHERE endpoint = ?1 AND id > ?2 AND id < ?3 LIMIT 1");
  if (!probe) return probe.error();
  probe->bind(1, sql(endpoint)).bind(2, sql(after)).bind(3, sql(before));
  auto stored = probe->step();
  if (!stored || stored.value()) return stored;
  const std::uint64_t held = lowestHeldUnresolved(endpoint, after);
  return held != 0 && held < before;
}

// The lowest stored id of the endpoint above `after` that no acknowledged range holds.
Result<std::uint64_t> Outbox::nextUnresolved(std::uint32_t endpoint, const EndpointState& state, std::uint64_t after) {
  auto next = db_.prepare("SELECT id FROM outbox WHERE endpoint = ?1 AND id > ?2 ORDER BY id");
  if (!next) return next.error();
  next->bind(1, sql(endpoint)).bind(2, sql(after));
  std::uint64_t found = 0;
  Status s = eachRow(next.value(), [&] {
    const std::uint64_t id = u64(next->int64(0));
    if (inRange(state.acked, id)) return true;  // acknowledged, not flushed yet
    found = id;
    return false;
  });
  if (!s) return Error{s.message()};
  const std::uint64_t held = lowestHeldUnresolved(endpoint, after);
  if (held != 0 && (found == 0 || held < found)) found = held;
  return found;
}

// The floor's entry was resolved: the floor moves to the next unresolved entry, past the
// ranges acknowledged out of order, which it then no longer needs.
Status Outbox::moveFloor(std::uint32_t endpoint, EndpointState& state, std::uint64_t after) {
  if (state.entries == 0) {
    state.floor = 0;
    state.acked.clear();
    return Status::success();
  }
  auto next = nextUnresolved(endpoint, state, after);
  if (!next) return next.error();
  if (next.value() == 0) {
    return Error{"endpoint " + std::to_string(endpoint) + " counts " + std::to_string(state.entries) +
                 " unresolved entries above id " + std::to_string(after) + " but the table has none"};
  }
  state.floor = next.value();
  state.acked.erase(state.acked.begin(), state.acked.lower_bound(state.floor));
  return Status::success();
}

Status Outbox::flush(Spill spill) {
  settle();
  if (Status s = requireWritable("flush()"); !s) return s;
  std::set<std::uint32_t> touched;
  if (Status s = deleteAcknowledged(std::nullopt, touched); !s) return Error{"outbox: " + s.message()};
  if (Status s = spillHeld(spill); !s) return Error{"outbox: " + s.message()};
  for (auto& [endpoint, state] : endpoints_) {
    if (Status s = save(endpoint, state); !s) return Error{"outbox: " + s.message()};
  }
  return Status::success();
}

// Writes the rows of held payloads still unacknowledged: those added before this
// transaction, or all of them.
Status Outbox::spillHeld(Spill spill) {
  const std::uint64_t current = db_.transactionSerial();
  std::optional<storage::Statement> insert;
  for (auto& [id, held] : held_) {
    if (!held.unresolvedInMemory() || (spill == Spill::Older && held.addedIn >= current)) continue;
    if (!insert) {
      auto prepared = db_.prepare("INSERT INTO outbox(id, endpoint, topic, payload) VALUES(?1, ?2, ?3, ?4)");
      if (!prepared) return prepared.error();
      insert.emplace(std::move(prepared.value()));
    }
    insert->bind(1, sql(id)).bind(2, sql(held.endpoint)).bind(3, held.topicSuffix).bindBlob(4, held.payload);
    if (Status s = insert->run(); !s) return s;
    held.spilledIn = current;
    toForget_.push_back(id);
  }
  return Status::success();
}

// Deletes the acknowledged rows (of one endpoint, or of all), noting whose went.
Status Outbox::deleteAcknowledged(std::optional<std::uint32_t> onlyEndpoint, std::set<std::uint32_t>& touched) {
  auto remove = db_.prepare("DELETE FROM outbox WHERE id = ?1");
  if (!remove) return remove.error();
  std::vector<Acknowledgement> kept;
  for (const Acknowledgement& ack : unflushed_) {
    if (onlyEndpoint && *onlyEndpoint != ack.endpoint) {
      kept.push_back(ack);
      continue;
    }
    if (memoryOnly(ack.id)) {
      held_.at(ack.id).flushedIn = db_.transactionSerial();  // no row: forgotten once this commits
      toForget_.push_back(ack.id);
    } else {
      remove->bind(1, sql(ack.id));
      if (Status s = remove->run(); !s) return s;
    }
    touched.insert(ack.endpoint);
    uncommittedDeletes_.push_back(ack);
  }
  unflushed_ = std::move(kept);
  return Status::success();
}

// Keeps what a restart needs and the rows do not say once deleted: the endpoint's
// highest id (its watermark when nothing is left, and with every endpoint's, the id
// sequence's high-water mark) and the ranges acknowledged out of order (so an eviction
// after a restart does not report a range spanning an entry that was delivered). Called
// only after deleting rows of the endpoint, and writes only what changed.
//
// The ranges must name every deleted id of the endpoint above its lowest stored row,
// which after a restart is the floor again. That holds because a save always follows
// deleting all of the endpoint's acknowledged rows (flush(), evictFrom()): then the
// lowest stored row is the floor, evicted ids lie below it, and every id above it that
// was acknowledged is in a range.
//
// With write-behind it also saves which ids are held only in memory (unacknowledged), and
// the lost ones not handed over yet, so that a restart knows what went with the memory.
Status Outbox::save(std::uint32_t endpoint, EndpointState& state) {
  std::string acked = encodeRanges(state.acked);
  std::string held = heldRanges(endpoint, state);
  if (state.highId == state.savedHighId && acked == state.savedAcked && held == state.savedHeld) {
    return Status::success();
  }
  auto upsert = db_.prepare(
      "INSERT INTO outbox_endpoints(endpoint, high_id, acked, held) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(endpoint) DO UPDATE SET high_id = excluded.high_id, acked = excluded.acked, held = excluded.held");
  if (!upsert) return upsert.error();
  upsert->bind(1, sql(endpoint)).bind(2, sql(state.highId)).bind(3, acked).bind(4, held);
  if (Status s = upsert->run(); !s) return s;
  state.savedHighId = state.highId;
  state.savedAcked = std::move(acked);
  state.savedHeld = std::move(held);
  return Status::success();
}

std::string Outbox::heldRanges(std::uint32_t endpoint, const EndpointState& state) const {
  AckedRanges ranges = state.lost;
  for (const auto& [id, held] : held_) {
    if (held.endpoint != endpoint || !held.unresolvedInMemory()) continue;
    if (!ranges.empty() && std::prev(ranges.end())->second + 1 == id) {
      std::prev(ranges.end())->second = id;
    } else {
      ranges[id] = id;
    }
  }
  return encodeRanges(ranges);
}

Result<std::vector<Eviction>> Outbox::takeLostOnRestart() {
  settle();
  if (Status s = requireWritable("takeLostOnRestart()"); !s) return Error{s.message()};
  std::vector<Eviction> lost;
  for (auto& [endpoint, state] : endpoints_) {
    if (state.lost.empty()) continue;
    for (const auto& [first, last] : state.lost) lost.push_back({endpoint, last - first + 1, first, last, 0});
    state.lost.clear();
    if (Status s = save(endpoint, state); !s) return Error{"outbox: " + s.message()};  // no longer named
  }
  return lost;
}

Status Outbox::resync() {
  // Acknowledgements are facts about the endpoints, not about the transaction: those
  // whose rows the rollback brought back still hold.
  std::vector<std::uint64_t> acks;
  for (const auto* list : {&uncommittedDeletes_, &unflushed_}) {
    for (const Acknowledgement& ack : *list) acks.push_back(ack.id);
  }
  uncommittedDeletes_.clear();
  unflushed_.clear();
  brokenReason_.reset();
  // Held payloads: undo what the rolled-back transaction (the last one begun) did to them;
  // what earlier ones did committed. Acknowledgements are re-applied below.
  const std::uint64_t failed = db_.transactionSerial();
  for (auto entry = held_.begin(); entry != held_.end();) {
    Held& held = entry->second;
    if (held.spilledIn == failed) held.spilledIn = 0;
    if (held.flushedIn == failed) held.flushedIn = 0;
    if (held.evictedIn == failed) held.evictedIn = 0;
    held.acked = false;
    const bool gone = held.addedIn == failed || held.spilledIn != 0 || held.flushedIn != 0 || held.evictedIn != 0;
    entry = gone ? held_.erase(entry) : std::next(entry);
  }
  if (Status s = load(); !s) {
    brokenReason_ = "reload failed: " + s.message();
    return Error{"outbox: " + s.message()};
  }
  for (const std::uint64_t id : acks) {
    if (Status s = applyAck(id); !s) {
      brokenReason_ = "re-applying acknowledgements: " + s.message();
      return Error{"outbox: " + s.message()};
    }
  }
  return Status::success();
}

std::vector<std::uint32_t> Outbox::evictionSequence() const {
  std::vector<std::uint32_t> order = options_.evictionOrder;
  for (const auto& entry : endpoints_) {
    if (std::find(options_.evictionOrder.begin(), options_.evictionOrder.end(), entry.first) ==
        options_.evictionOrder.end()) {
      order.push_back(entry.first);  // std::map: ascending
    }
  }
  return order;
}

Result<std::vector<Eviction>> Outbox::evictOverCapacity() {
  settle();
  if (Status s = requireWritable("evictOverCapacity()"); !s) return Error{s.message()};
  std::vector<Eviction> evictions;
  for (const std::uint32_t endpoint : evictionSequence()) {
    if (storedBytes_ <= options_.capacityBytes) break;
    const auto it = endpoints_.find(endpoint);
    if (it == endpoints_.end() || it->second.entries == 0) continue;
    auto runs = evictFrom(endpoint, it->second);
    if (!runs) {
      brokenReason_ = "eviction failed: " + runs.error().message;
      return Error{"outbox: " + runs.error().message};
    }
    evictions.insert(evictions.end(), runs->begin(), runs->end());
  }
  return evictions;
}

// Oldest unresolved entries first, from the floor up, until the excess is gone. A run
// ends where an acknowledged range lies between two of them. The endpoint's acknowledged
// rows are deleted first (see save()).
Result<std::vector<Eviction>> Outbox::evictFrom(std::uint32_t endpoint, EndpointState& state) {
  std::set<std::uint32_t> touched;
  if (Status s = deleteAcknowledged(endpoint, touched); !s) return Error{s.message()};
  const std::uint64_t excess = storedBytes_ - options_.capacityBytes;
  std::uint64_t freed = 0;
  std::vector<Eviction> runs;
  {
    auto oldest = db_.prepare("SELECT id, " + std::string(kRowSize) +
                              " FROM outbox WHERE endpoint = ?1 AND id >= ?2 ORDER BY id");
    if (!oldest) return oldest.error();
    oldest->bind(1, sql(endpoint)).bind(2, sql(state.floor));
    Status s = eachRow(oldest.value(), [&] {
      const std::uint64_t id = u64(oldest->int64(0));
      if (isResolved(state, id)) return true;
      const std::uint64_t bytes = u64(oldest->int64(1)) + kRowOverheadBytes;
      if (runs.empty() || rangeBetween(state.acked, runs.back().lastId, id)) runs.push_back({endpoint, 0, id, id, 0});
      Eviction& run = runs.back();
      run.count += 1;
      run.lastId = id;
      run.bytes += bytes;
      freed += bytes;
      return freed < excess;
    });
    if (!s) return Error{s.message()};
  }
  auto remove = db_.prepare("DELETE FROM outbox WHERE endpoint = ?1 AND id BETWEEN ?2 AND ?3");
  if (!remove) return remove.error();
  for (const Eviction& run : runs) {
    remove->bind(1, sql(endpoint)).bind(2, sql(run.firstId)).bind(3, sql(run.lastId));
    if (Status s = remove->run(); !s) return Error{s.message()};
    // No acknowledged row lies inside a run, so the range deletes exactly the run.
    if (u64(db_.changes()) != run.count) {
      return Error{"evicting " + std::to_string(run.firstId) + ".." + std::to_string(run.lastId) + " of endpoint " +
                   std::to_string(endpoint) + " deleted " + std::to_string(db_.changes()) + " rows, not " +
                   std::to_string(run.count)};
    }
    state.entries -= run.count;
    state.bytes -= run.bytes;
    storedBytes_ -= run.bytes;
  }
  // Still over: the payloads held in memory go next (they are newer than every row).
  const std::size_t rowRuns = runs.size();
  for (auto& [id, held] : held_) {
    if (freed >= excess) break;
    if (held.endpoint != endpoint || !held.unresolvedInMemory()) continue;
    const std::uint64_t bytes = held.topicSuffix.size() + held.payload.size() + kRowOverheadBytes;
    if (runs.size() == rowRuns || rangeBetween(state.acked, runs.back().lastId, id)) {
      runs.push_back({endpoint, 0, id, id, 0});
    }
    Eviction& run = runs.back();
    run.count += 1;
    run.lastId = id;
    run.bytes += bytes;
    freed += bytes;
    held.evictedIn = db_.transactionSerial();
    toForget_.push_back(id);
    state.entries -= 1;
    state.bytes -= bytes;
    storedBytes_ -= bytes;
  }
  if (!runs.empty()) {
    if (Status s = moveFloor(endpoint, state, runs.back().lastId); !s) return Error{s.message()};
  }
  if (Status s = save(endpoint, state); !s) return Error{s.message()};
  return runs;
}

Result<std::vector<Entry>> Outbox::pending(std::uint32_t endpoint, std::uint64_t afterId, std::size_t max) {
  settle();
  if (brokenReason_) return Error{"outbox: " + *brokenReason_ + " (resync() first)"};
  std::vector<Entry> entries;
  const auto it = endpoints_.find(endpoint);
  if (max == 0 || it == endpoints_.end() || it->second.floor == 0) return entries;
  const EndpointState& state = it->second;
  auto rows = db_.prepare("SELECT id, topic, payload FROM outbox WHERE endpoint = ?1 AND id > ?2 ORDER BY id");
  if (!rows) return rows.error();
  const std::uint64_t after = std::max(afterId, state.floor - 1);
  rows->bind(1, sql(endpoint)).bind(2, sql(after));
  Status s = eachRow(rows.value(), [&] {
    const std::uint64_t id = u64(rows->int64(0));
    if (isResolved(state, id)) return true;  // acknowledged, not flushed yet
    entries.push_back({id, endpoint, rows->text(1), rows->blob(2)});
    return entries.size() < max;
  });
  if (!s) return Error{"outbox: " + s.message()};
  // Held payloads are newer than every row of their endpoint except right after a
  // restart's rows; merged by id all the same.
  const std::size_t fromRows = entries.size();
  for (auto h = held_.upper_bound(after); h != held_.end(); ++h) {
    const Held& held = h->second;
    if (held.endpoint != endpoint || !held.unresolvedInMemory()) continue;
    entries.push_back({h->first, endpoint, held.topicSuffix, held.payload});
    if (entries.size() - fromRows >= max) break;
  }
  if (entries.size() > fromRows) {
    std::inplace_merge(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(fromRows), entries.end(),
                       [](const Entry& a, const Entry& b) { return a.id < b.id; });
    if (entries.size() > max) entries.resize(max);
  }
  return entries;
}

std::uint64_t Outbox::resolvedThrough(std::uint32_t endpoint) const {
  const auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) return 0;
  return it->second.floor != 0 ? it->second.floor - 1 : it->second.highId;
}

Outbox::EndpointCounts Outbox::counts(std::uint32_t endpoint) const {
  const auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) return {};
  return {it->second.entries, it->second.bytes};
}

}  // namespace cordon::outbox
