#include "simulator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <sstream>

#include "consensus/replica.h"

namespace ol::sim {
namespace {

using namespace ol::consensus;

// ---- per-node durable state ------------------------------------------------------------------

/// The node's committed chain and the blocks it persisted (PersistBlock); it survives crashes
/// (it is the node's database) and serves peers' sync requests, as the node's store does.
class Ledger final : public CommittedBlocks {
 public:
  std::optional<Block> find(const Hash32& id) const override {
    if (auto p = persisted_.find(id); p != persisted_.end()) return p->second;
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return chain_[it->second].block;
  }
  void persist(const Block& b) { persisted_.emplace(b.compute_id(), b); }
  void append(CommittedBlock c, const Hash32& id) {
    index_[id] = chain_.size();
    chain_.push_back(std::move(c));
  }
  const std::vector<CommittedBlock>& chain() const { return chain_; }

 private:
  std::vector<CommittedBlock> chain_;
  std::map<Hash32, std::size_t> index_;
  std::map<Hash32, Block> persisted_;
};

/// Commands name their proposer and round, so conflicting blocks differ. Execution anchoring as
/// the node does it (Core::exec_anchor, Core::votable): a committed height counts as executed,
/// its "state root" is derived from its block id; a leader anchors what it executed up to the
/// bound the replica gives, and a replica votes only for anchors it has executed and agrees with.
/// (Without the bound, a certificate that commits a height at some validators only could stop
/// the chain for good: session 20's chaos stall.)
class CounterPayload final : public PayloadSource {
 public:
  CounterPayload(ValidatorIndex self, const Ledger& ledger) : self_(self), ledger_(ledger) {}
  types::Payload next_payload(Round round, Height, const Hash32&) override {
    codec::Writer w;
    w.u32(self_);
    w.u64(round);
    w.u64(++counter_);
    return std::vector<types::Command>{w.take()};
  }
  ExecAnchor exec_anchor(const Block& parent, Height committed) override {
    ExecAnchor anchor{parent.exec_height, {}};
    const Height last = std::min<Height>(ledger_.chain().size(), committed);
    while (anchor.height < last && anchor.roots.size() < Block::kMaxExecRoots) {
      anchor.roots.push_back(root_at(++anchor.height));
    }
    return anchor;
  }
  bool votable(const Block& block, const Hash32&) override {
    if (block.exec_height > ledger_.chain().size()) return false;  // not executed here yet
    for (Height h = block.first_exec_height(); h <= block.exec_height; ++h) {
      if (*block.exec_root_at(h) != root_at(h)) return false;
    }
    return true;
  }

 private:
  Hash32 root_at(Height h) const {
    const Hash32 id = ledger_.chain()[h - 1].block.compute_id();
    return types::exec_commitment(id, id);
  }
  ValidatorIndex self_;
  const Ledger& ledger_;
  std::uint64_t counter_ = 0;
};

struct Checker;

/// Safety storage that also reports every persisted vote to the double-vote checker.
class CheckedStorage final : public SafetyStorage {
 public:
  CheckedStorage(Checker& checker, ValidatorIndex node) : checker_(checker), node_(node) {}
  Status save(const SafetyData& data) override;
  Status save_certificates(const QuorumCert& high_qc,
                           const std::optional<types::TimeoutCert>& last_tc) override {
    high_qc_ = high_qc;
    last_tc_ = last_tc;
    return {};
  }
  const SafetyData& data() const { return data_; }
  const std::optional<QuorumCert>& high_qc() const { return high_qc_; }
  const std::optional<types::TimeoutCert>& last_tc() const { return last_tc_; }

 private:
  Checker& checker_;
  ValidatorIndex node_;
  SafetyData data_;
  std::optional<QuorumCert> high_qc_;
  std::optional<types::TimeoutCert> last_tc_;
};

struct Checker {
  std::string failure;
  std::map<std::pair<ValidatorIndex, Round>, Hash32> votes;  // honest votes ever signed
  std::map<Height, Hash32> committed;                        // height -> id, first committer
  std::vector<bool> honest;

  void fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }
  void on_vote(ValidatorIndex node, const Vote& v) {
    if (!honest[node]) return;
    auto [it, fresh] = votes.emplace(std::make_pair(node, v.round), v.block_id);
    if (!fresh && it->second != v.block_id) {
      fail("DOUBLE VOTE: honest node " + std::to_string(node) + " signed two votes in round " +
           std::to_string(v.round));
    }
  }
};

Status CheckedStorage::save(const SafetyData& data) {
  if (data.last_vote) checker_.on_vote(node_, *data.last_vote);
  if (data.last_voted_round < data_.last_voted_round) {
    checker_.fail("safety data went backwards on node " + std::to_string(node_));
  }
  data_ = data;
  return {};
}

struct Node {
  ValidatorIndex id = 0;
  bool byzantine = false;
  bool up = true;
  std::unique_ptr<CheckedStorage> storage;
  Ledger ledger;
  std::unique_ptr<CounterPayload> payload;
  std::unique_ptr<Replica> replica;
  std::uint64_t timer_generation = 0;
  std::size_t commits_at_gst = 0;
  std::vector<Bytes> heard;  // Byzantine: recent messages to replay
};

// ---- events and trace ------------------------------------------------------------------------

enum class EventKind { deliver, timer, crash, restart, byzantine_tick };

struct Event {
  std::uint64_t time = 0;
  std::uint64_t seq = 0;
  EventKind kind = EventKind::deliver;
  ValidatorIndex to = 0;
  ValidatorIndex from = 0;
  std::uint64_t round_or_generation = 0;
  Round timer_round = 0;
  std::shared_ptr<const Bytes> bytes;
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

struct TraceEntry {
  std::uint64_t time;
  char what;  // 's' send, 'd' deliver, 'x' drop, 't' timer, 'c' commit, 'C' crash, 'R' restart
  ValidatorIndex a, b;
  std::uint8_t kind;  // message tag, 255 = not a message
  std::uint64_t round;
};

std::uint64_t message_round(const Message& m) {
  if (auto* p = std::get_if<ProposalMsg>(&m)) return p->block.round;
  if (auto* v = std::get_if<Vote>(&m)) return v->round;
  if (auto* t = std::get_if<TimeoutMsg>(&m)) return t->timeout.round;
  if (auto* s = std::get_if<SyncInfo>(&m)) return s->high_qc.round;
  return 0;
}

class Simulation {
 public:
  Simulation(const Scenario& s, std::uint64_t seed) : s_(s), rng_(seed) {
    std::vector<crypto::Ed25519PublicKey> pubs;
    for (std::size_t i = 0; i < s.n; ++i) {
      FixedBytes<32> secret{};
      secret[0] = static_cast<std::uint8_t>(i);
      secret[1] = static_cast<std::uint8_t>(i >> 8);
      secret[2] = 0x5a;
      keys_.push_back(*crypto::Ed25519KeyPair::from_seed(secret));
      pubs.push_back(keys_.back().public_key());
    }
    set_.emplace(*crypto::ValidatorSet::create(pubs));
    leaders_ = std::make_unique<RoundRobinLeaders>(s.n);
    checker_.honest.assign(s.n, true);
    for (std::size_t i = 0; i < s.n; ++i) {
      auto node = std::make_unique<Node>();
      node->id = static_cast<ValidatorIndex>(i);
      node->byzantine = i >= s.n - s.byzantine;
      checker_.honest[i] = !node->byzantine;
      node->storage = std::make_unique<CheckedStorage>(checker_, node->id);
      node->payload = std::make_unique<CounterPayload>(node->id, node->ledger);
      nodes_.push_back(std::move(node));
    }
  }

  RunResult run() {
    for (auto& node : nodes_) boot(*node);
    for (const auto& c : s_.crashes) {
      schedule(Event{c.at_ms, 0, EventKind::crash, c.node, 0, 0, 0, nullptr});
      if (c.restart_ms != 0)
        schedule(Event{c.restart_ms, 0, EventKind::restart, c.node, 0, 0, 0, nullptr});
    }
    for (auto& node : nodes_) {
      if (node->byzantine && (s_.behaviour.garbage || s_.behaviour.replay)) {
        schedule(Event{10, 0, EventKind::byzantine_tick, node->id, 0, 0, 0, nullptr});
      }
    }
    bool gst_marked = false;
    while (!queue_.empty() && checker_.failure.empty()) {
      Event e = queue_.top();
      queue_.pop();
      if (e.time > s_.duration_ms) break;
      now_ = e.time;
      if (!gst_marked && now_ >= s_.gst_ms) {
        gst_marked = true;
        for (auto& n : nodes_) n->commits_at_gst = n->ledger.chain().size();
      }
      step(e);
    }
    if (!gst_marked) {
      for (auto& n : nodes_) n->commits_at_gst = n->ledger.chain().size();
    }
    return finish();
  }

 private:
  // ---- lifecycle ----
  void boot(Node& node) {
    RecoveryState rec;
    if (!node.ledger.chain().empty()) {
      rec.root = node.ledger.chain().back().block;
      rec.root_qc = node.ledger.chain().back().certificate;
    }
    rec.safety = node.storage->data();
    rec.high_qc = node.storage->high_qc();
    rec.last_tc = node.storage->last_tc();
    ReplicaConfig cfg;
    cfg.pacemaker = {s_.base_timeout_ms, s_.max_timeout_ms};
    node.replica = std::make_unique<Replica>(*set_, node.id, keys_[node.id], cfg, rec,
                                             *node.storage, *leaders_, *node.payload, &node.ledger);
    node.up = true;
    apply(node, node.replica->start(now_));
  }

  void step(const Event& e) {
    Node& node = *nodes_[e.to];
    switch (e.kind) {
      case EventKind::crash:
        trace('C', e.to, e.to, 255, 0);
        node.up = false;
        node.replica.reset();
        ++node.timer_generation;
        return;
      case EventKind::restart:
        trace('R', e.to, e.to, 255, 0);
        boot(node);
        return;
      case EventKind::timer:
        if (!node.up || e.round_or_generation != node.timer_generation) return;
        trace('t', e.to, e.to, 255, e.timer_round);
        apply(node, node.replica->on_timer(now_, e.timer_round));
        return;
      case EventKind::byzantine_tick:
        byzantine_noise(node);
        schedule(
            Event{now_ + 5 + rng_() % 40, 0, EventKind::byzantine_tick, node.id, 0, 0, 0, nullptr});
        return;
      case EventKind::deliver:
        deliver(node, e.from, *e.bytes);
        return;
    }
  }

  void deliver(Node& node, ValidatorIndex from, const Bytes& bytes) {
    if (!node.up) return;
    auto msg = decode_message(bytes);
    trace('d', from, node.id, msg.ok() ? static_cast<std::uint8_t>(msg->index()) : 254,
          msg.ok() ? message_round(*msg) : 0);
    if (!msg.ok()) return;  // what the node's transport does with undecodable frames
    if (const auto* p = std::get_if<ProposalMsg>(&*msg)) {
      // As Core::handle does: the proposal's certificates first, so that what they commit is
      // executed (here: in the ledger) before the replica decides on its vote.
      apply(node, node.replica->on_message(now_, from, SyncInfo{p->block.justify, p->tc}));
      if (!node.up) return;
    }
    if (node.byzantine) {
      if (node.heard.size() < 256)
        node.heard.push_back(bytes);
      else
        node.heard[rng_() % node.heard.size()] = bytes;
      if (s_.behaviour.vote_everything) {
        if (auto* p = std::get_if<ProposalMsg>(&*msg)) vote_anyway(node, p->block);
      }
    }
    apply(node, node.replica->on_message(now_, from, *msg));
  }

  // ---- effects ----
  void apply(Node& node, Effects effects) {
    for (auto& eff : effects) {
      if (auto* send = std::get_if<SendTo>(&eff)) {
        if (node.byzantine && s_.behaviour.withhold_votes &&
            std::holds_alternative<Vote>(send->message))
          continue;
        transmit(node.id, send->to, std::make_shared<const Bytes>(encode_message(send->message)),
                 send->message);
      } else if (auto* b = std::get_if<Broadcast>(&eff)) {
        if (node.byzantine && s_.behaviour.equivocate &&
            std::holds_alternative<ProposalMsg>(b->message)) {
          equivocate(node, std::get<ProposalMsg>(b->message));
          continue;
        }
        auto bytes = std::make_shared<const Bytes>(encode_message(b->message));
        for (std::size_t to = 0; to < s_.n; ++to) {
          if (to != node.id) transmit(node.id, static_cast<ValidatorIndex>(to), bytes, b->message);
        }
      } else if (auto* rb = std::get_if<RequestBlocks>(&eff)) {
        Message m = rb->request;
        transmit(node.id, rb->to, std::make_shared<const Bytes>(encode_message(m)), m);
      } else if (auto* t = std::get_if<SetTimer>(&eff)) {
        // At least 1 ms: a zero-length timer (a deferred proposal) must let virtual time pass.
        schedule(Event{now_ + std::max<std::uint64_t>(t->duration_ms, 1), 0, EventKind::timer,
                       node.id, 0, ++node.timer_generation, t->round, nullptr});
      } else if (auto* c = std::get_if<Commit>(&eff)) {
        on_commit(node, *c);
      } else if (auto* p = std::get_if<PersistBlock>(&eff)) {
        node.ledger.persist(p->block);
      }
    }
    // A proposal that left ahead of the leader's own vote on it: the vote follows at once.
    if (node.replica && node.replica->has_own_input()) {
      apply(node, node.replica->on_own_input(now_));
    }
  }

  void on_commit(Node& node, const Commit& c) {
    const Hash32 id = c.block.compute_id();
    trace('c', node.id, node.id, 255, c.block.round);
    const auto& chain = node.ledger.chain();
    const Hash32 parent =
        chain.empty() ? Block::genesis().compute_id() : chain.back().block.compute_id();
    const Height expect = chain.empty() ? 1 : chain.back().block.height + 1;
    if (!node.byzantine && (c.block.height != expect || c.block.parent_id != parent)) {
      checker_.fail("node " + std::to_string(node.id) + " committed height " +
                    std::to_string(c.block.height) + " out of order (expected " +
                    std::to_string(expect) + ")");
    }
    if (!node.byzantine) {
      auto [it, fresh] = checker_.committed.emplace(c.block.height, id);
      if (!fresh && it->second != id) {
        checker_.fail("SAFETY: fork at height " + std::to_string(c.block.height) + " (node " +
                      std::to_string(node.id) + ")");
      }
    }
    node.ledger.append(CommittedBlock{c.block, c.certificate}, id);
  }

  bool partitioned(ValidatorIndex a, ValidatorIndex b) const {
    if (now_ >= s_.gst_ms || s_.partition.empty()) return false;
    auto group = [&](ValidatorIndex v) {
      for (std::size_t g = 0; g < s_.partition.size(); ++g) {
        if (std::find(s_.partition[g].begin(), s_.partition[g].end(), v) != s_.partition[g].end())
          return g;
      }
      return s_.partition.size();
    };
    return group(a) != group(b);
  }

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  void transmit(ValidatorIndex from, ValidatorIndex to, std::shared_ptr<const Bytes> bytes,
                const Message& m) {
    ++messages_;
    const auto kind = static_cast<std::uint8_t>(m.index());
    if (partitioned(from, to) || (now_ < s_.gst_ms && uniform() < s_.loss_before_gst)) {
      trace('x', from, to, kind, message_round(m));
      return;
    }
    trace('s', from, to, kind, message_round(m));
    const int copies = uniform() < s_.duplicate ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const std::uint64_t delay =
          s_.min_delay_ms + rng_() % (s_.max_delay_ms - s_.min_delay_ms + 1);
      schedule(Event{now_ + delay, 0, EventKind::deliver, to, from, 0, 0, bytes});
    }
  }

  void schedule(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  // ---- Byzantine behaviour ----
  void equivocate(Node& node, const ProposalMsg& honest) {
    ProposalMsg other = honest;
    other.block.payload =
        std::vector<types::Command>{Bytes{0xee, static_cast<std::uint8_t>(rng_())}};
    other.signature = keys_[node.id].sign(types::proposal_digest(other.block.compute_id()));
    auto a = std::make_shared<const Bytes>(encode_message(honest));
    auto b = std::make_shared<const Bytes>(encode_message(other));
    Message ma = honest, mb = other;
    for (std::size_t to = 0; to < s_.n; ++to) {
      if (to == node.id) continue;
      if (to % 2 == 0)
        transmit(node.id, static_cast<ValidatorIndex>(to), a, ma);
      else
        transmit(node.id, static_cast<ValidatorIndex>(to), b, mb);
    }
    if (s_.behaviour.vote_everything) vote_anyway(node, other.block);
  }

  void vote_anyway(Node& node, const Block& block) {
    const Hash32 id = block.compute_id();
    Message v =
        Vote{id, block.round, node.id, keys_[node.id].sign(types::vote_digest(id, block.round))};
    const ValidatorIndex next = leaders_->leader(block.round + 1);
    if (next != node.id)
      transmit(node.id, next, std::make_shared<const Bytes>(encode_message(v)), v);
  }

  void byzantine_noise(Node& node) {
    if (!node.up) return;
    const auto to = static_cast<ValidatorIndex>(rng_() % s_.n);
    if (to == node.id) return;
    Bytes bytes;
    const auto pick = rng_() % 3;
    if (s_.behaviour.replay && !node.heard.empty() && pick == 0) {
      bytes = node.heard[rng_() % node.heard.size()];  // replay as is
    } else if (s_.behaviour.garbage && !node.heard.empty() && pick == 1) {
      bytes = node.heard[rng_() % node.heard.size()];  // flip a bit: mis-signed or malformed
      bytes[rng_() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng_() % 8));
    } else if (s_.behaviour.garbage) {
      bytes.resize(rng_() % 200);
      for (auto& x : bytes) x = static_cast<std::uint8_t>(rng_());
      if (!bytes.empty()) bytes[0] = static_cast<std::uint8_t>(rng_() % 7);  // mostly valid tags
    } else {
      return;
    }
    ++messages_;
    trace('s', node.id, to, 253, 0);
    schedule(Event{now_ + s_.min_delay_ms, 0, EventKind::deliver, to, node.id, 0, 0,
                   std::make_shared<const Bytes>(std::move(bytes))});
  }

  // ---- trace and verdict ----
  void trace(char what, ValidatorIndex a, ValidatorIndex b, std::uint8_t kind,
             std::uint64_t round) {
    if (trace_.size() == kTraceCap) {
      trace_[trace_head_] = TraceEntry{now_, what, a, b, kind, round};
      trace_head_ = (trace_head_ + 1) % kTraceCap;
    } else {
      trace_.push_back(TraceEntry{now_, what, a, b, kind, round});
    }
  }

  std::string format_trace() const {
    static const char* kKinds[] = {"proposal",  "vote",         "timeout",
                                   "sync-info", "sync-request", "sync-response"};
    std::ostringstream os;
    for (std::size_t i = 0; i < trace_.size(); ++i) {
      const auto& t = trace_[(trace_head_ + i) % trace_.size()];
      os << "  t=" << t.time << "ms ";
      const std::string kind = t.kind < 6      ? kKinds[t.kind]
                               : t.kind == 255 ? ""
                               : t.kind == 254 ? "undecodable"
                                               : "noise";
      switch (t.what) {
        case 's':
          os << t.a << " -> " << t.b << " send " << kind;
          break;
        case 'x':
          os << t.a << " -> " << t.b << " DROPPED " << kind;
          break;
        case 'd':
          os << t.a << " -> " << t.b << " deliver " << kind;
          break;
        case 't':
          os << "node " << t.a << " timer";
          break;
        case 'c':
          os << "node " << t.a << " COMMIT block of";
          break;
        case 'C':
          os << "node " << t.a << " CRASH";
          break;
        case 'R':
          os << "node " << t.a << " RESTART";
          break;
      }
      if (t.round) os << " round " << t.round;
      os << "\n";
    }
    return os.str();
  }

  RunResult finish() {
    RunResult r;
    r.messages = messages_;
    for (auto& n : nodes_) {
      if (n->replica) r.rounds = std::max<std::uint64_t>(r.rounds, n->replica->current_round());
      if (!n->ledger.chain().empty())
        r.max_height = std::max(r.max_height, n->ledger.chain().back().block.height);
    }
    // Safety again at the end: every honest ledger is a prefix of the agreed chain.
    for (auto& n : nodes_) {
      if (n->byzantine) continue;
      for (const auto& c : n->ledger.chain()) {
        if (checker_.committed.at(c.block.height) != c.block.compute_id())
          checker_.fail("SAFETY: ledgers diverge");
      }
    }
    // Liveness after GST.
    for (auto& n : nodes_) {
      if (n->byzantine || !n->up) continue;
      const std::size_t gained = n->ledger.chain().size() - n->commits_at_gst;
      if (gained < s_.min_commits_after_gst) {
        checker_.fail("LIVENESS: honest node " + std::to_string(n->id) + " committed " +
                      std::to_string(gained) + " blocks after GST (want >= " +
                      std::to_string(s_.min_commits_after_gst) + ")");
      }
    }
    if (s_.expect_commit_every_round) {
      // After the two-chain warm-up, every round's block commits: rounds 1, 2, 3, ... with no
      // gaps, trailing the highest round by at most the uncommitted tail (two rounds, plus one
      // whose proposal may still be in flight at the cut-off). Judged on the most advanced
      // ledger: with jittered delays a replica may be mid-sync at the instant the run stops.
      const Node* best = nodes_[0].get();
      for (auto& n : nodes_) {
        if (n->ledger.chain().size() > best->ledger.chain().size()) best = n.get();
      }
      const auto& chain = best->ledger.chain();
      for (std::size_t i = 0; i < chain.size(); ++i) {
        if (chain[i].block.round != i + 1) {
          checker_.fail("fault-free run skipped a round at height " + std::to_string(i + 1));
          break;
        }
      }
      if (chain.size() + 3 < r.rounds) {
        checker_.fail("fault-free run committed " + std::to_string(chain.size()) + " blocks in " +
                      std::to_string(r.rounds) + " rounds");
      }
    }
    r.ok = checker_.failure.empty();
    r.failure = checker_.failure;
    if (!r.ok) r.trace = format_trace();
    return r;
  }

  static constexpr std::size_t kTraceCap = 60;

  const Scenario& s_;
  std::mt19937_64 rng_;
  std::vector<crypto::Ed25519KeyPair> keys_;
  std::optional<crypto::ValidatorSet> set_;
  std::unique_ptr<RoundRobinLeaders> leaders_;
  Checker checker_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  std::uint64_t now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t messages_ = 0;
  std::vector<TraceEntry> trace_;
  std::size_t trace_head_ = 0;
};

}  // namespace

RunResult run(const Scenario& scenario, std::uint64_t seed) {
  Simulation sim(scenario, seed);
  return sim.run();
}

}  // namespace ol::sim
