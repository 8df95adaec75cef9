// The chaos run's checker: pure comparisons over chains, receipts, roots and journals, and
// check_network(), which reads them from the stopped validators' stores.
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "common/hex.h"
#include "execution/ledger.h"
#include "node/config.h"
#include "node/tools/chaos.h"
#include "storage/store.h"
#include "types/block.h"
#include "types/verified_transaction.h"

namespace ol::node::tools {
namespace {

std::string hex(const Hash32& h) {
  return to_hex(h, true);
}

std::string short_hex(const Hash32& h) {
  return to_hex(ByteView(h.data(), 6), true) + "…";
}

void add(std::vector<Violation>& out, std::string kind, std::string detail) {
  out.push_back({std::move(kind), std::move(detail)});
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t b = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > b) out.push_back(line.substr(b, i - b));
  }
  return out;
}

Status read_text(const std::filesystem::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(Errc::not_found, "cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return {};
}

}  // namespace

std::vector<Violation> check_chains_agree(const std::vector<ChainView>& chains) {
  std::vector<Violation> out;
  if (chains.empty()) return out;
  std::size_t longest = 0;
  for (std::size_t i = 1; i < chains.size(); ++i) {
    if (chains[i].ids.size() > chains[longest].ids.size()) longest = i;
  }
  const ChainView& ref = chains[longest];
  for (const auto& c : chains) {
    if (&c == &ref) continue;
    for (std::size_t k = 0; k < c.ids.size(); ++k) {
      if (c.ids[k] == ref.ids[k]) continue;
      add(out, "divergence",
          "at height " + std::to_string(k + 1) + " " + c.node + " committed " + hex(c.ids[k]) +
              " but " + ref.node + " committed " + hex(ref.ids[k]) + " (first divergence)");
      break;
    }
  }
  return out;
}

std::vector<Violation> check_observed(const ObservedCommits& observed,
                                      const std::vector<ChainView>& chains,
                                      const std::vector<TxView>& nodes) {
  std::vector<Violation> out;
  constexpr std::size_t kMaxPerKind = 20;  // then one line says how many more
  std::size_t blocks_bad = 0, txs_bad = 0;
  auto note = [&](std::size_t& count, const char* kind, std::string detail) {
    if (++count <= kMaxPerKind) add(out, kind, std::move(detail));
  };
  for (const auto& [height, id] : observed.blocks) {
    for (const auto& c : chains) {
      if (c.ids.size() < height) {
        note(blocks_bad, "lost-block",
             "RPC reported block " + short_hex(id) + " committed at height " +
                 std::to_string(height) + " but " + c.node + "'s chain ends at height " +
                 std::to_string(c.ids.size()));
      } else if (c.ids[height - 1] != id) {
        note(blocks_bad, "divergence",
             "RPC reported block " + hex(id) + " at height " + std::to_string(height) + " but " +
                 c.node + " holds " + hex(c.ids[height - 1]));
      }
    }
  }
  for (const auto& [tx, height] : observed.txs) {
    for (const auto& n : nodes) {
      if (n.height < height) continue;  // reported by the block check above
      auto rec = n.lookup(tx);
      if (!rec) {
        note(txs_bad, "store",
             n.node + ": reading the receipt of " + hex(tx) + ": " + rec.error().message);
      } else if (!*rec) {
        note(txs_bad, "lost-tx",
             "transaction " + hex(tx) + " was reported committed at height " +
                 std::to_string(height) + " but " + n.node + " has no receipt for it");
      } else if ((*rec)->height != height) {
        note(txs_bad, "lost-tx",
             "transaction " + hex(tx) + " was reported committed at height " +
                 std::to_string(height) + " but " + n.node + " has it at height " +
                 std::to_string((*rec)->height));
      } else if ((*rec)->outcome != execution::TxOutcome::success) {
        note(txs_bad, "tx-outcome",
             "transaction " + hex(tx) + " at height " + std::to_string(height) + " failed on " +
                 n.node + ": " + execution::to_string((*rec)->outcome) + " " + (*rec)->detail);
      }
    }
  }
  if (blocks_bad > kMaxPerKind) {
    add(out, "lost-block", std::to_string(blocks_bad - kMaxPerKind) + " more block problems");
  }
  if (txs_bad > kMaxPerKind) {
    add(out, "lost-tx", std::to_string(txs_bad - kMaxPerKind) + " more transaction problems");
  }
  return out;
}

std::vector<Violation> check_state_roots(const std::vector<StateView>& states,
                                         const std::vector<Hash32>& replayed) {
  std::vector<Violation> out;
  for (std::size_t i = 0; i < states.size(); ++i) {
    const auto& s = states[i];
    for (std::size_t j = 0; j < i; ++j) {
      const auto& o = states[j];
      if (o.height == s.height && o.root != s.root) {
        add(out, "state",
            s.node + " and " + o.node + " are both at height " + std::to_string(s.height) +
                " with different state roots " + hex(s.root) + " and " + hex(o.root));
      }
    }
    if (s.height < replayed.size() && replayed[s.height] != s.root) {
      add(out, "state",
          s.node + "'s state root at height " + std::to_string(s.height) + " is " + hex(s.root) +
              " but re-executing the agreed chain gives " + hex(replayed[s.height]));
    }
  }
  return out;
}

JournalSummary check_signing_journal(const std::string& node, std::string_view text) {
  JournalSummary out;
  std::map<std::uint64_t, std::string> voted, proposed;  // round -> block id hex
  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool torn = nl == std::string_view::npos;  // SIGKILL mid-append: never sent
    const std::string_view line = text.substr(pos, torn ? std::string_view::npos : nl - pos);
    pos = torn ? text.size() : nl + 1;
    ++line_no;
    const auto w = split_words(line);
    if (w.empty()) continue;
    auto bad = [&] {
      if (!torn) {
        add(out.violations, "journal",
            node + " signing.journal line " + std::to_string(line_no) + " unreadable: \"" +
                std::string(line.substr(0, 120)) + "\"");
      }
    };
    if (w.size() != 3 || !parse_u64(w[1])) {
      bad();
      continue;
    }
    const std::uint64_t round = *parse_u64(w[1]);
    if (w[0] == "timeout") {
      if (!parse_u64(w[2]))
        bad();
      else
        ++out.timeouts;
      continue;
    }
    if (w[0] != "vote" && w[0] != "proposal") {
      bad();
      continue;
    }
    if (!from_hex_fixed<32>(w[2])) {
      bad();
      continue;
    }
    const bool vote = w[0] == "vote";
    ++(vote ? out.votes : out.proposals);
    auto& seen = vote ? voted : proposed;
    const std::string id(w[2]);
    auto [it, fresh] = seen.emplace(round, id);
    if (!fresh && it->second != id) {
      if (!vote) ++out.double_proposals;
      add(out.violations, vote ? "double-sign" : "double-proposal",
          node + " signed " + (vote ? "votes" : "proposals") +
              " for two different blocks in round " + std::to_string(round) + ": " + it->second +
              " and " + id + " (signing.journal line " + std::to_string(line_no) + ")");
    }
  }
  return out;
}

Result<NetworkCheck> check_network(const std::filesystem::path& dir, std::size_t validators,
                                   const Genesis& genesis, const ObservedCommits& observed) {
  NetworkCheck out;
  struct Node {
    std::string name;
    std::filesystem::path home;
    std::unique_ptr<storage::Store> store;
    ChainView chain;
  };
  std::vector<Node> nodes;
  for (std::size_t i = 0; i < validators; ++i) {
    Node n;
    n.name = "node" + std::to_string(i);
    n.home = dir / n.name;
    OL_TRY_ASSIGN(NodeConfig config, load_config(n.home / "config.toml"));
    storage::Options so;
    so.create_if_missing = false;
    so.keep_blocks = config.storage.keep_blocks;
    so.block_cache_bytes = 8u << 20;
    auto store = storage::Store::open(n.home / config.storage.path, so);
    if (!store) {
      return make_error(store.error().code,
                        n.name + ": cannot open its store: " + store.error().message);
    }
    n.store = std::move(*store);
    n.chain.node = n.name;
    OL_TRY_ASSIGN(auto tip, n.store->committed_tip());
    const std::uint64_t height = tip ? tip->height : 0;
    n.chain.ids.reserve(height);
    for (std::uint64_t h = 1; h <= height; ++h) {
      OL_TRY_ASSIGN(auto id, n.store->block_hash_at(h));
      if (!id) {
        add(out.violations, "store",
            n.name + " has no block id at height " + std::to_string(h) + " below its tip " +
                std::to_string(height));
        break;
      }
      n.chain.ids.push_back(*id);
    }
    out.heights.push_back(n.chain.ids.size());
    nodes.push_back(std::move(n));
  }

  // (a) the chains agree block by block.
  std::vector<ChainView> chains;
  for (const auto& n : nodes) chains.push_back(n.chain);
  for (auto& v : check_chains_agree(chains)) out.violations.push_back(std::move(v));
  const bool diverged = !out.violations.empty();

  // (c) what clients were told is in every store.
  std::vector<TxView> tx_views;
  for (const auto& n : nodes) {
    const storage::Store* s = n.store.get();
    tx_views.push_back(
        {n.name, n.chain.ids.size(), [s](const Hash32& h) { return load_tx_record(*s, h); }});
  }
  for (auto& v : check_observed(observed, chains, tx_views)) out.violations.push_back(std::move(v));
  out.observed_txs_checked = observed.txs.size();

  // (b) re-execute the longest chain from genesis: every block body matches its id, every
  // node's receipts match, every root a block claims matches, and the final roots match.
  std::vector<Hash32> replayed;
  if (!diverged) {
    std::size_t longest = 0;
    for (std::size_t i = 1; i < nodes.size(); ++i) {
      if (nodes[i].chain.ids.size() > nodes[longest].chain.ids.size()) longest = i;
    }
    OL_TRY_ASSIGN(auto ledger, execution::Ledger::in_memory(genesis.app));
    replayed.push_back(ledger->state_root());
    std::set<Hash32> executed;  // transactions with a receipt (a replayed inclusion gets none)
    std::size_t receipt_problems = 0;
    std::uint64_t anchored = 0;  // the highest height the chain's blocks have anchored
    const auto& ids = nodes[longest].chain.ids;
    for (std::uint64_t h = 1; h <= ids.size(); ++h) {
      std::optional<types::Block> block;
      for (const auto& n : nodes) {  // any store that still holds the body
        if (n.chain.ids.size() < h) continue;
        OL_TRY_ASSIGN(block, load_committed_block(*n.store, h));
        if (block) break;
      }
      if (!block) {
        add(out.violations, "store", "no store holds the body of block " + std::to_string(h));
        break;
      }
      const Hash32 id = block->compute_id();
      if (id != ids[h - 1] || block->height != h) {
        add(out.violations, "store",
            "the body stored for height " + std::to_string(h) + " hashes to " + hex(id) +
                ", not the committed id " + hex(ids[h - 1]));
        break;
      }
      // The execution anchors: each height once, in order, with the committed id and the root
      // that re-execution gives there.
      if (block->first_exec_height() != anchored + 1 && !block->exec_roots.empty()) {
        add(out.violations, "state",
            "block " + std::to_string(h) + " anchors heights " +
                std::to_string(block->first_exec_height()) + ".." +
                std::to_string(block->exec_height) + " after height " + std::to_string(anchored) +
                " was anchored");
      }
      for (std::uint64_t a = block->first_exec_height(); a <= block->exec_height; ++a) {
        if (a == 0 || a >= replayed.size()) {
          add(out.violations, "state",
              "block " + std::to_string(h) + " anchors height " + std::to_string(a) +
                  ", which is not below it");
          continue;
        }
        const Hash32 want = types::exec_commitment(ids[a - 1], replayed[a]);
        if (*block->exec_root_at(a) != want) {
          add(out.violations, "state",
              "block " + std::to_string(h) + " (proposer " + std::to_string(block->proposer) +
                  ") anchors height " + std::to_string(a) + " with " +
                  hex(*block->exec_root_at(a)) + " but re-execution gives root " +
                  hex(replayed[a]) + " (commitment " + hex(want) + ")");
        }
      }
      if (!block->exec_roots.empty()) anchored = std::max(anchored, block->exec_height);
      out.anchored_height = anchored;
      std::vector<types::TxRef> txs;
      if (const auto* list = std::get_if<std::vector<types::Transaction>>(&block->payload)) {
        for (const auto& tx : *list) {
          auto v = types::VerifiedTransaction::verify(tx, genesis.app.chain_id);
          if (!v) continue;  // every node skips it identically
          txs.push_back(std::make_shared<const types::VerifiedTransaction>(std::move(*v)));
        }
      }
      OL_TRY_ASSIGN(
          auto outcome,
          ledger->apply_block(execution::BlockInfo{block->height, block->timestamp_ms, id}, txs));
      replayed.push_back(outcome.state_root);
      out.replayed_txs += txs.size();
      std::set<Hash32> in_block;
      for (const auto& r : outcome.receipts) {
        const bool first_here = in_block.insert(r.tx_hash).second;
        if (r.outcome == execution::TxOutcome::bad_nonce &&
            (!first_here || executed.contains(r.tx_hash))) {
          continue;  // a replayed inclusion: the node keeps the first receipt
        }
        executed.insert(r.tx_hash);
        const TxRecord want{h, r.outcome, r.detail};
        for (const auto& n : nodes) {
          if (n.chain.ids.size() < h) continue;
          OL_TRY_ASSIGN(auto got, load_tx_record(*n.store, r.tx_hash));
          if (got && *got == want) continue;
          if (++receipt_problems > 20) continue;
          add(out.violations, "receipt",
              n.name + "'s receipt of " + hex(r.tx_hash) + " (block " + std::to_string(h) +
                  ") is " +
                  (got ? "height " + std::to_string(got->height) + " " +
                             execution::to_string(got->outcome)
                       : std::string("missing")) +
                  "; re-execution gives " + execution::to_string(r.outcome));
        }
      }
    }
    if (receipt_problems > 20) {
      add(out.violations, "receipt",
          std::to_string(receipt_problems - 20) + " more receipt problems");
    }
    out.replayed_height = replayed.size() - 1;
  }

  // (b) final state roots.
  std::vector<StateView> states;
  for (auto& n : nodes) {
    auto ledger = execution::Ledger::open(*n.store, genesis.app);
    if (!ledger) {
      add(out.violations, "state",
          n.name + ": its ledger does not open: " + ledger.error().message);
      continue;
    }
    const std::uint64_t h = (*ledger)->applied_height();
    if (h != n.chain.ids.size()) {
      add(out.violations, "state",
          n.name + "'s ledger is at height " + std::to_string(h) + " but its chain at " +
              std::to_string(n.chain.ids.size()));
    }
    states.push_back({n.name, h, (*ledger)->state_root()});
  }
  for (auto& v : check_state_roots(states, replayed)) out.violations.push_back(std::move(v));

  // (d) no double-signed round.
  for (const auto& n : nodes) {
    std::string text;
    if (!read_text(n.home / "signing.journal", text)) continue;
    ++out.journals;
    auto j = check_signing_journal(n.name, text);
    out.journal_votes += j.votes;
    out.double_proposals += j.double_proposals;
    for (auto& v : j.violations) out.violations.push_back(std::move(v));
  }
  return out;
}

}  // namespace ol::node::tools
