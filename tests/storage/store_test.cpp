#include "storage/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "storage/crash_batch.h"
#include "support/temp_dir.h"

extern char** environ;

namespace ol::storage {
namespace {

namespace fs = std::filesystem;

struct TempDir : ol::testing::TempDir {
  TempDir() : ol::testing::TempDir("ol-storage") {}
  fs::path db() const { return path() / "db"; }
};

Bytes b(std::string_view s) {
  return to_bytes(as_bytes(s));
}

Hash32 hash_of(std::uint8_t x) {
  Hash32 h{};
  h.fill(x);
  return h;
}

std::unique_ptr<Store> must_open(const fs::path& dir, Options o = {}) {
  auto s = Store::open(dir, o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  return s.ok() ? std::move(s).value() : nullptr;
}

// Every state entry under `prefix` of a Store or StateView, as strings, in scan order.
template <class Source>
std::vector<std::pair<std::string, std::string>> scan_state(const Source& source,
                                                            std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(source
                  .for_each_state(as_bytes(prefix),
                                  [&](ByteView k, ByteView v) {
                                    out.emplace_back(std::string(k.begin(), k.end()),
                                                     std::string(v.begin(), v.end()));
                                    return true;
                                  })
                  .ok());
  return out;
}

// A child process running the crash writer helper, with its stdout on a pipe.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int out[2], in[2];
    EXPECT_EQ(::pipe(out), 0);
    EXPECT_EQ(::pipe(in), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    args.insert(args.begin(), OL_CRASH_WRITER);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, OL_CRASH_WRITER, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(in[0]);
    out_ = ::fdopen(out[0], "r");
    stdin_fd_ = in[1];
  }
  ~Child() {
    if (pid_ > 0) kill_and_wait();
    if (out_) std::fclose(out_);
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
  }
  /// The next line the child printed, or "" at end of output.
  std::string line() {
    char buf[256];
    if (!std::fgets(buf, sizeof buf, out_)) return "";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  void kill_and_wait() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  /// Closes the child's stdin and returns its exit code.
  int wait_exit() {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int stdin_fd_ = -1;
};

TEST(Store, ReopenAfterCloseYieldsWhatWasWritten) {
  TempDir tmp;
  {
    auto store = must_open(tmp.db());
    WriteBatch batch;
    batch.put_block(hash_of(1), b("block one"));
    batch.commit_block(1, hash_of(1));
    batch.put_qc(hash_of(1), b("qc one"));
    batch.put_state(b("acct/a"), b("100"));
    batch.put_meta("genesis", b("g"));
    batch.put_checkpoint(1, b("cp"));
    ASSERT_TRUE(store->write(batch, Durability::synced).ok());
    ASSERT_TRUE(store->put_safety("safety", b("round 7")).ok());
    ASSERT_TRUE(store->put_safety("proposed", b("round 8"), Durability::buffered).ok());
    ASSERT_TRUE(store->sync_wal().ok());
  }
  auto store = must_open(tmp.db(), Options{.create_if_missing = false});
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->get_block(hash_of(1)).value(), b("block one"));
  EXPECT_EQ(*store->get_block_at(1).value(), b("block one"));
  EXPECT_EQ(*store->block_hash_at(1).value(), hash_of(1));
  EXPECT_EQ(*store->get_qc(hash_of(1)).value(), b("qc one"));
  EXPECT_EQ(*store->get_state(b("acct/a")).value(), b("100"));
  EXPECT_EQ(*store->get_meta("genesis").value(), b("g"));
  EXPECT_EQ(*store->get_checkpoint(1).value(), b("cp"));
  EXPECT_EQ(*store->get_safety("safety").value(), b("round 7"));
  EXPECT_EQ(*store->get_safety("proposed").value(), b("round 8"));
  EXPECT_EQ(store->committed_tip().value(), (CommittedTip{1, hash_of(1)}));
  EXPECT_FALSE(store->get_block(hash_of(2)).value().has_value());
  EXPECT_FALSE(store->get_block_at(2).value().has_value());
  EXPECT_FALSE(store->get_state(b("acct/b")).value().has_value());
}

// A checkpoint reads the state as of one commit while later commits go on.
TEST(Store, AStateViewKeepsSeeingTheStateItWasTakenAt) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  WriteBatch first;
  first.put_state(b("a/1"), b("one"));
  first.put_state(b("a/2"), b("two"));
  ASSERT_TRUE(store->write(first).ok());
  auto view = store->state_view();

  WriteBatch later;
  later.put_state(b("a/1"), b("ONE"));
  later.put_state(b("a/3"), b("three"));
  later.delete_state(b("a/2"));
  ASSERT_TRUE(store->write(later).ok());
  ASSERT_TRUE(store->flush().ok());  // the view survives a flush of the memtable too

  auto scan = [](auto& source) {
    std::vector<std::pair<Bytes, Bytes>> out;
    EXPECT_TRUE(source
                    .for_each_state(b("a/"),
                                    [&](ByteView k, ByteView v) {
                                      out.emplace_back(to_bytes(k), to_bytes(v));
                                      return true;
                                    })
                    .ok());
    return out;
  };
  using KV = std::vector<std::pair<Bytes, Bytes>>;
  EXPECT_EQ(scan(*view), (KV{{b("a/1"), b("one")}, {b("a/2"), b("two")}}));
  EXPECT_EQ(scan(*store), (KV{{b("a/1"), b("ONE")}, {b("a/3"), b("three")}}));
}

// Store::write applies a batch in key order; writes to one key keep their order (the last wins),
// whatever other keys come between them.
TEST(Store, LaterWritesToAKeyWinInsideOneBatch) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  WriteBatch batch;
  batch.put_state(b("z"), b("z1"));
  batch.put_state(b("k"), b("first"));
  batch.put_state(b("a"), b("a1"));
  batch.delete_state(b("k"));
  batch.put_state(b("m"), b("m1"));
  batch.put_state(b("k"), b("last"));
  batch.put_state(b("gone"), b("x"));
  batch.delete_state(b("gone"));
  batch.put_meta("k", b("meta"));  // same key, another column
  ASSERT_TRUE(store->write(batch).ok());
  EXPECT_EQ(*store->get_state(b("k")).value(), b("last"));
  EXPECT_FALSE(store->get_state(b("gone")).value().has_value());
  EXPECT_EQ(*store->get_state(b("z")).value(), b("z1"));
  EXPECT_EQ(*store->get_meta("k").value(), b("meta"));
}

// Memtables of all column families together stay within the budget: the largest is flushed
// when they reach it. Without one, RocksDB allows two 64 MiB memtables per column family.
TEST(Store, MemtablesStayWithinTheirBudget) {
  constexpr std::uint64_t kMiB = 1u << 20;
  const auto fill = [](Store& store) {
    const Bytes value(64 * 1024, 0x5a);
    for (std::uint64_t i = 0; i < 512; ++i) {  // 32 MiB of block bodies
      WriteBatch batch;
      batch.put_block(hash_of(i + 1), value);
      EXPECT_TRUE(store.write(batch).ok());
    }
  };
  TempDir unbounded_dir;
  auto unbounded = must_open(unbounded_dir.db(), Options{.memtable_budget_bytes = 0});
  fill(*unbounded);
  EXPECT_GE(unbounded->memtable_bytes(), 32 * kMiB);

  TempDir tmp;
  auto store = must_open(tmp.db(), Options{.memtable_budget_bytes = 8 * kMiB});
  // Empty memtables already hold their first arena blocks, a few hundred KiB each.
  const std::uint64_t empty = store->memtable_bytes();
  EXPECT_LT(empty, 4 * kMiB);
  fill(*store);
  // Flushes run in the background: wait for them (bounded, generously: under ASan with the
  // suite running beside it, 5 s was once not enough), then at most about the budget is left in
  // memory, and everything reads back.
  const std::uint64_t bound = 8 * kMiB + empty + 2 * kMiB;
  for (int i = 0; i < 3000 && store->memtable_bytes() > bound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LE(store->memtable_bytes(), bound);
  for (std::uint64_t i = 0; i < 512; ++i) {
    auto got = store->get_block(hash_of(i + 1));
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->size(), 64u * 1024);
  }
}

TEST(Store, EmptyStoreHasNoTip) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  EXPECT_FALSE(store->committed_tip().value().has_value());
  EXPECT_EQ(store->pruned_below(), 0u);
}

TEST(Store, MissingDirectoryIsNotFoundWithoutCreate) {
  TempDir tmp;
  auto s = Store::open(tmp.path() / "nope", Options{.create_if_missing = false});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_NE(s.error().message.find("nope"), std::string::npos);
}

TEST(Store, SecondOpenInSameProcessFailsWithLockError) {
  TempDir tmp;
  auto first = must_open(tmp.db());
  auto second = Store::open(tmp.db());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::state);
  EXPECT_NE(second.error().message.find("already open"), std::string::npos);
}

TEST(Store, SecondOpenFromAnotherProcessFailsWithLockError) {
  TempDir tmp;
  {
    auto first = must_open(tmp.db());
    Child child({"open", tmp.db().string()});
    EXPECT_EQ(child.wait_exit(), 2);  // lock held by us
  }
  // Once we close it, another process can open it.
  Child child({"open", tmp.db().string()});
  EXPECT_EQ(child.line(), "opened");
  auto while_child_holds = Store::open(tmp.db());
  ASSERT_FALSE(while_child_holds.ok());
  EXPECT_EQ(while_child_holds.error().code, Errc::state);
  EXPECT_EQ(child.wait_exit(), 0);
}

TEST(Store, StateDeleteAndPrefixIteration) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  WriteBatch batch;
  batch.put_state(b("a/2"), b("two"));
  batch.put_state(b("a/1"), b("one"));
  batch.put_state(b("a/3"), b("three"));
  batch.put_state(b("b/1"), b("other"));
  batch.delete_state(b("a/3"));
  ASSERT_TRUE(store->write(batch).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->for_each_state(as_bytes("a/"),
                                   [&](ByteView k, ByteView v) {
                                     seen.push_back(std::string(k.begin(), k.end()) + "=" +
                                                    std::string(v.begin(), v.end()));
                                     return true;
                                   })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a/1=one", "a/2=two"}));
}

// The state and meta columns keep their memtable in hash buckets (by a key's first 12 bytes):
// point reads find any key, and a prefix scan still visits keys in order, whether they sit in
// the memtable, in table files, in the write-ahead log replayed at reopen, or under a view.
TEST(Store, RandomlyKeyedStateAndMetaReadBackInKeyOrderFromEveryLayer) {
  TempDir tmp;
  std::mt19937_64 rng(7);
  auto random_key = [&](std::string prefix, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) prefix.push_back(static_cast<char>(rng() & 0xff));
    return prefix;
  };
  std::map<std::string, std::string> state;  // the model: what a scan of "acct/" must show
  std::map<std::string, std::string> meta;
  auto write_round = [&](Store& store, int round) {
    WriteBatch batch;
    for (int i = 0; i < 500; ++i) {
      // Long keys (past the bucket prefix), keys of a few bytes, and overwrites of older keys.
      std::string key = i % 5 == 0 && !state.empty()
                            ? std::next(state.begin(), rng() % state.size())->first
                        : i % 7 == 0 ? random_key("acct/", 2)
                                     : random_key("acct/", 20);
      const std::string value = std::to_string(round) + "/" + std::to_string(i);
      batch.put_state(as_bytes(key), as_bytes(value));
      state[key] = value;
      const std::string name = random_key("tx/", 32);
      batch.put_meta(name, as_bytes(value));
      meta[name] = value;
    }
    auto gone = std::next(state.begin(), rng() % state.size());
    batch.delete_state(as_bytes(gone->first));
    state.erase(gone);
    batch.put_state(b("m/h"), b("short key, other prefix"));
    batch.put_state(b("zz"), b("after every account"));
    ASSERT_TRUE(store.write(batch).ok());
  };
  auto check = [&](const auto& source, const Store& store, const std::string& where) {
    const auto seen = scan_state(source, "acct/");
    const std::vector<std::pair<std::string, std::string>> expected(state.begin(), state.end());
    EXPECT_TRUE(seen == expected) << where << ": " << seen.size() << " keys scanned, "
                                  << state.size() << " expected";
    for (const auto& [name, value] : meta) {
      auto got = store.get_meta(name);
      ASSERT_TRUE(got.ok() && got->has_value()) << where;
      ASSERT_EQ(std::string(got->value().begin(), got->value().end()), value) << where;
    }
  };
  {
    auto store = must_open(tmp.db());
    write_round(*store, 0);
    check(*store, *store, "memtable");
    ASSERT_TRUE(store->flush().ok());
    write_round(*store, 1);
    check(*store, *store, "memtable over a table file");
    auto view = store->state_view();
    auto at_view = state;
    write_round(*store, 2);
    std::swap(state, at_view);  // the view shows the state before round 2
    check(*view, *store, "state view");
    std::swap(state, at_view);
    check(*store, *store, "after the view");
  }
  auto reopened = must_open(tmp.db());
  check(*reopened, *reopened, "reopened (write-ahead log replayed)");
}

// The state and meta columns' memtable keeps every version of a key under that key, newest
// first (storage/key_versions_memtable.h): point reads and scans see the newest write, a view
// sees the versions of its moment, deletions hide older versions, and the same holds once the
// memtable is a table file.
TEST(Store, ManyVersionsOfOneKeyReadBackAsTheNewestAndAsOfAView) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  auto value_of = [&](std::string_view key) -> std::string {
    auto got = store->get_state(as_bytes(key));
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !got->has_value()) return "<none>";
    return std::string(got->value().begin(), got->value().end());
  };
  auto scan = [](const auto& source) { return scan_state(source, ""); };
  std::unique_ptr<StateView> view;
  for (int i = 0; i < 300; ++i) {
    WriteBatch batch;
    batch.put_state(b("acct/hot"), as_bytes(std::to_string(i)));
    if (i % 3 == 0) batch.put_state(b(""), as_bytes("empty key " + std::to_string(i)));
    if (i == 100) batch.put_state(b("acct/gone"), b("soon deleted"));
    if (i == 150) batch.delete_state(b("acct/gone"));
    if (i == 160) batch.put_state(b("acct/gone"), b("back"));
    ASSERT_TRUE(store->write(batch).ok());
    if (i == 120) view = store->state_view();
  }
  using KV = std::vector<std::pair<std::string, std::string>>;
  const KV now{{"", "empty key 297"}, {"acct/gone", "back"}, {"acct/hot", "299"}};
  const KV then{{"", "empty key 120"}, {"acct/gone", "soon deleted"}, {"acct/hot", "120"}};
  EXPECT_EQ(value_of("acct/hot"), "299");
  EXPECT_EQ(value_of(""), "empty key 297");
  EXPECT_EQ(value_of("acct/gone"), "back");
  EXPECT_EQ(value_of("acct/ho"), "<none>");  // a prefix of a key is another key
  EXPECT_EQ(scan(*store), now);
  EXPECT_EQ(scan(*view), then);
  ASSERT_TRUE(store->flush().ok());
  EXPECT_EQ(value_of("acct/hot"), "299");
  EXPECT_EQ(scan(*store), now);
  EXPECT_EQ(scan(*view), then);
}

// Readers on other threads while one thread writes (the node's RPC and checkpoint threads read
// while the core thread commits): every read sees a whole value, never an older one than the
// reader saw before.
TEST(Store, ConcurrentReadersSeeEachKeyOnlyMoveForward) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  constexpr int kWrites = 3000;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  auto reader = [&] {
    long last = -1;
    while (!done.load()) {
      auto got = store->get_state(as_bytes(std::string_view("k/1")));
      if (!got.ok()) {
        ++bad;
        continue;
      }
      if (!got->has_value()) continue;
      const std::string text(got->value().begin(), got->value().end());
      const long v = std::stol(text.substr(0, text.find('/')));
      if (text != std::to_string(v) + "/" + std::string(64, 'x') || v < last) ++bad;
      last = v;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int i = 0; i < kWrites; ++i) {
    WriteBatch batch;
    batch.put_state(b("k/1"), as_bytes(std::to_string(i) + "/" + std::string(64, 'x')));
    batch.put_state(as_bytes("k/other/" + std::to_string(i % 97)), as_bytes(std::to_string(i)));
    ASSERT_TRUE(store->write(batch).ok());
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0);
  auto last = store->get_state(as_bytes(std::string_view("k/1")));
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ(std::string(last->value().begin(), last->value().end()),
            std::to_string(kWrites - 1) + "/" + std::string(64, 'x'));
}

TEST(Store, CheckpointChunksAreKeyedUnderTheirHeightAndDeletable) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  EXPECT_TRUE(store->checkpoint_heights().value().empty());
  WriteBatch batch;
  for (std::uint64_t h : {300u, 100u, 200u}) {
    batch.put_checkpoint(h, b("manifest " + std::to_string(h)));
    for (std::uint32_t i = 0; i < 3; ++i) {
      batch.put_checkpoint_chunk(h, i, b("chunk " + std::to_string(h) + "/" + std::to_string(i)));
    }
  }
  ASSERT_TRUE(store->write(batch).ok());
  EXPECT_EQ(store->checkpoint_heights().value(), (std::vector<std::uint64_t>{100, 200, 300}));
  EXPECT_EQ(*store->get_checkpoint_chunk(200, 2).value(), b("chunk 200/2"));
  EXPECT_FALSE(store->get_checkpoint_chunk(200, 3).value().has_value());
  EXPECT_EQ(*store->get_checkpoint(200).value(), b("manifest 200"));

  WriteBatch prune;
  prune.delete_checkpoint(100);
  for (std::uint32_t i = 0; i < 3; ++i) prune.delete_checkpoint_chunk(100, i);
  prune.delete_checkpoint(200);  // a record without chunks is not listed; orphan chunks are not
  ASSERT_TRUE(store->write(prune).ok());
  EXPECT_EQ(store->checkpoint_heights().value(), (std::vector<std::uint64_t>{300}));
  EXPECT_FALSE(store->get_checkpoint_chunk(100, 0).value().has_value());
}

TEST(Store, CommitMustMoveTheTipForwardAndARejectedBatchWritesNothing) {
  TempDir tmp;
  auto store = must_open(tmp.db());
  WriteBatch first;
  first.commit_block(5, hash_of(5));
  ASSERT_TRUE(store->write(first).ok());

  WriteBatch back;
  back.put_state(b("x"), b("must not appear"));
  back.commit_block(5, hash_of(6));
  auto st = store->write(back);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::state);
  EXPECT_FALSE(store->get_state(b("x")).value().has_value());
  EXPECT_EQ(store->committed_tip().value()->hash, hash_of(5));

  WriteBatch two;  // one batch may commit several heights in order
  two.commit_block(6, hash_of(6));
  two.commit_block(7, hash_of(7));
  ASSERT_TRUE(store->write(two).ok());
  EXPECT_EQ(store->committed_tip().value(), (CommittedTip{7, hash_of(7)}));
}

void commit_blocks(Store& store, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t h = from; h <= to; ++h) {
    WriteBatch batch;
    batch.put_block(test::block_hash(h), test::block_body(h));
    batch.commit_block(h, test::block_hash(h));
    batch.put_qc(test::block_hash(h), b("qc"));
    ASSERT_TRUE(store.write(batch).ok());
  }
}

std::vector<std::uint64_t> heights_with_body(Store& store, std::uint64_t upto) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t h = 0; h <= upto; ++h) {
    if (store.get_block(test::block_hash(h)).value().has_value()) out.push_back(h);
  }
  return out;
}

TEST(Store, PruningKeepsExactlyTheLastNBodies) {
  TempDir tmp;
  {
    auto store = must_open(tmp.db(), Options{.keep_blocks = 5});
    commit_blocks(*store, 0, 20);
    EXPECT_EQ(heights_with_body(*store, 30), (std::vector<std::uint64_t>{16, 17, 18, 19, 20}));
    EXPECT_EQ(store->pruned_below(), 16u);
    // The height index and QCs outlive the bodies.
    EXPECT_EQ(*store->block_hash_at(3).value(), test::block_hash(3));
    EXPECT_TRUE(store->get_qc(test::block_hash(3)).value().has_value());
    EXPECT_FALSE(store->get_block_at(3).value().has_value());
  }
  // After reopening, pruning carries on from where it stopped.
  auto store = must_open(tmp.db(), Options{.keep_blocks = 5});
  EXPECT_EQ(store->pruned_below(), 16u);
  commit_blocks(*store, 21, 23);
  EXPECT_EQ(heights_with_body(*store, 30), (std::vector<std::uint64_t>{19, 20, 21, 22, 23}));
}

TEST(Store, PruningInsideOneBatchThatCommitsSeveralBlocks) {
  TempDir tmp;
  auto store = must_open(tmp.db(), Options{.keep_blocks = 2});
  WriteBatch batch;
  for (std::uint64_t h = 1; h <= 4; ++h) {
    batch.put_block(test::block_hash(h), test::block_body(h));
    batch.commit_block(h, test::block_hash(h));
  }
  ASSERT_TRUE(store->write(batch).ok());
  EXPECT_EQ(heights_with_body(*store, 10), (std::vector<std::uint64_t>{3, 4}));
}

TEST(Store, ArchivalKeepsEverythingAndUncommittedBlocksAreNotPruned) {
  TempDir tmp;
  {
    auto store = must_open(tmp.db());
    commit_blocks(*store, 0, 10);
    EXPECT_EQ(heights_with_body(*store, 10).size(), 11u);
  }
  auto store = must_open(tmp.db(), Options{.keep_blocks = 1});
  WriteBatch fork;
  fork.put_block(hash_of(0xee), b("fork block, never committed"));
  ASSERT_TRUE(store->write(fork).ok());
  commit_blocks(*store, 11, 11);
  EXPECT_EQ(heights_with_body(*store, 11), (std::vector<std::uint64_t>{11}));
  EXPECT_TRUE(store->get_block(hash_of(0xee)).value().has_value());
  WriteBatch drop;
  drop.delete_block(hash_of(0xee));
  ASSERT_TRUE(store->write(drop).ok());
  EXPECT_FALSE(store->get_block(hash_of(0xee)).value().has_value());
}

// Checks that batches [first, tip] are complete and nothing past the tip exists; returns tip.
std::uint64_t check_every_batch_complete_or_absent(Store& store, std::uint64_t first) {
  auto tip = store.committed_tip().value();
  EXPECT_TRUE(tip.has_value());
  if (!tip) return 0;
  const std::uint64_t last = tip->height;
  for (std::uint64_t i = first; i <= last; ++i) {
    EXPECT_EQ(store.get_block(test::block_hash(i)).value(), test::block_body(i)) << i;
    EXPECT_EQ(store.block_hash_at(i).value(), test::block_hash(i)) << i;
    EXPECT_TRUE(store.get_qc(test::block_hash(i)).value().has_value()) << i;
  }
  for (std::uint64_t i = last + 1; i <= last + 3; ++i) {
    EXPECT_FALSE(store.get_block(test::block_hash(i)).value().has_value()) << i;
    EXPECT_FALSE(store.block_hash_at(i).value().has_value()) << i;
    EXPECT_FALSE(store.get_qc(test::block_hash(i)).value().has_value()) << i;
  }
  std::size_t keys = 0;
  EXPECT_TRUE(store
                  .for_each_state(as_bytes("k/"),
                                  [&](ByteView, ByteView) {
                                    ++keys;
                                    return true;
                                  })
                  .ok());
  EXPECT_EQ(keys, (last - first + 1) * test::kStateKeysPerBatch);
  for (std::uint64_t i = first; i <= last; ++i) {
    for (int j = 0; j < test::kStateKeysPerBatch; ++j) {
      if (!store.get_state(as_bytes(test::state_key(i, j))).value()) {
        ADD_FAILURE() << "batch " << i << " lost state key " << j;
        return last;
      }
    }
  }
  EXPECT_EQ(store.get_state(as_bytes("last")).value(), b(std::to_string(last)));
  return last;
}

// A child writes batches in a loop and is SIGKILLed at arbitrary points; every reopen must see
// each batch either complete or absent, and every batch the child reported as written.
TEST(Store, BatchesAreAllOrNothingAcrossSigkill) {
  TempDir tmp;
  std::uint64_t next = 0;
  for (int round = 0; round < 5; ++round) {
    std::uint64_t reported = 0;
    bool any = false;
    {
      Child child({"write", tmp.db().string(), std::to_string(next)});
      const std::uint64_t stop_after = 40 + 53 * static_cast<std::uint64_t>(round);
      for (std::uint64_t n = 0; n < stop_after; ++n) {
        auto line = child.line();
        ASSERT_FALSE(line.empty()) << "writer exited early";
        reported = std::stoull(line);
        any = true;
      }
      child.kill_and_wait();  // mid-write, most likely: the child never pauses
    }
    auto store = must_open(tmp.db(), Options{.create_if_missing = false});
    ASSERT_TRUE(store);
    const std::uint64_t tip = check_every_batch_complete_or_absent(*store, 0);
    ASSERT_TRUE(any);
    EXPECT_GE(tip, reported) << "a batch acknowledged before the kill was lost";
    next = tip + 1;
  }
}

TEST(Store, CorruptTableFileIsReportedNotReturned) {
  TempDir tmp;
  {
    auto store = must_open(tmp.db());
    WriteBatch batch;
    for (int i = 0; i < 200; ++i) {
      batch.put_state(as_bytes("key" + std::to_string(i)),
                      Bytes(1000, static_cast<std::uint8_t>(i)));
    }
    ASSERT_TRUE(store->write(batch).ok());
    ASSERT_TRUE(store->flush().ok());
  }
  // Flip bytes in the middle of every table file's data.
  int corrupted = 0;
  for (const auto& entry : fs::directory_iterator(tmp.db())) {
    if (entry.path().extension() != ".sst") continue;
    const auto size = fs::file_size(entry.path());
    if (size < 4096) continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 3));
    const char junk[16] = {'\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55',
                           '\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55'};
    f.write(junk, sizeof junk);
    ++corrupted;
  }
  ASSERT_GT(corrupted, 0);
  auto store = Store::open(tmp.db());
  if (!store.ok()) {  // paranoid checks may already catch it at open
    EXPECT_EQ(store.error().code, Errc::io);
    EXPECT_EQ(store.error().message.rfind("corruption", 0), 0u) << store.error().message;
    return;
  }
  bool saw_corruption = false;
  for (int i = 0; i < 200; ++i) {
    auto v = (*store)->get_state(as_bytes("key" + std::to_string(i)));
    if (!v.ok()) {
      EXPECT_EQ(v.error().code, Errc::io);
      EXPECT_EQ(v.error().message.rfind("corruption", 0), 0u) << v.error().message;
      saw_corruption = true;
    } else {
      // Whatever is returned must be exactly what was written.
      ASSERT_TRUE(v->has_value());
      EXPECT_EQ(**v, Bytes(1000, static_cast<std::uint8_t>(i)));
    }
  }
  EXPECT_TRUE(saw_corruption);
}

TEST(Store, CorruptManifestFailsOpenClearly) {
  TempDir tmp;
  { must_open(tmp.db()); }
  std::ofstream(tmp.db() / "CURRENT", std::ios::trunc) << "garbage-without-newline";
  auto store = Store::open(tmp.db());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::io);
  EXPECT_NE(store.error().message.find(tmp.db().string()), std::string::npos);
}

}  // namespace
}  // namespace ol::storage
