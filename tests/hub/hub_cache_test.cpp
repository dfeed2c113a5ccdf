// The hub cache in a temporary folder, laid out by hand the way huggingface_hub lays it out
// and by HubCache's own writes, which must be byte for byte the same.
#include "hub/hub_cache.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "test_support.h"

namespace wick::hub {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr std::string_view kRepo = "org/model-GGUF";
constexpr std::string_view kCommitA = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd";
constexpr std::string_view kCommitB = "1111111111222222222233333333334444444444";
// `git hash-object` of "hello\n".
constexpr std::string_view kHelloSha1 = "ce013625030ba8dba906f756967f9e9ca394464a";

void WriteText(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string ReadText(const fs::path& path) {
  std::vector<uint8_t> bytes = testing::ReadFileBytes(path);
  return {bytes.begin(), bytes.end()};
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Builds a repo folder exactly as huggingface_hub's hf_hub_download leaves it.
class FakeRepo {
 public:
  FakeRepo(const fs::path& root, std::string_view repo) : dir_(root / RepoFolderName(repo)) {}

  // A blob named by the sha256 of its content; returns the name.
  std::string AddBlob(std::string_view content) {
    std::string etag = Sha256::HexOf(content);
    WriteText(dir_ / "blobs" / etag, content);
    return etag;
  }
  void Link(std::string_view commit, const std::string& file, const std::string& etag) {
    fs::path link = dir_ / "snapshots" / commit / file;
    fs::create_directories(link.parent_path());
    fs::create_symlink(fs::relative(dir_ / "blobs" / etag, link.parent_path()), link);
  }
  void Ref(const std::string& revision, std::string_view commit) {
    WriteText(dir_ / "refs" / revision, commit);
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

// Saves the variables the cache root depends on and restores them afterwards.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_[name] = value == nullptr ? std::nullopt : std::optional<std::string>(value);
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  static constexpr const char* kNames[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                           "XDG_CACHE_HOME", "HOME"};
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(HubCacheTest, RootFollowsHuggingFaceHubsOrder) {
  EnvGuard env;
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(HubCacheRoot(), "/home/u/.cache/huggingface/hub");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(HubCacheRoot(), "/xdg/huggingface/hub");
  setenv("HF_HOME", "~/hf", 1);
  EXPECT_EQ(HubCacheRoot(), "/home/u/hf/hub");
  setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
  EXPECT_EQ(HubCacheRoot(), "/legacy");
  setenv("HF_HUB_CACHE", "/new", 1);
  EXPECT_EQ(HubCacheRoot(), "/new");
  setenv("HF_HUB_CACHE", "", 1);  // empty counts as unset
  EXPECT_EQ(HubCacheRoot(), "/legacy");
}

TEST(HubCacheTest, FolderNames) {
  EXPECT_EQ(RepoFolderName("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"),
            "models--Qwen--Qwen2.5-Coder-1.5B-Instruct-GGUF");
  EXPECT_EQ(RepoIdFromFolderName("models--Qwen--Qwen2.5-GGUF"), "Qwen/Qwen2.5-GGUF");
  EXPECT_EQ(RepoIdFromFolderName("datasets--a--b"), std::nullopt);
  EXPECT_EQ(RepoIdFromFolderName("models--gpt2"), std::nullopt);
  EXPECT_EQ(RepoIdFromFolderName(".locks"), std::nullopt);
  EXPECT_TRUE(IsCommitHash(kCommitA));
  EXPECT_FALSE(IsCommitHash("AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDD"));
  EXPECT_FALSE(IsCommitHash("main"));
  EXPECT_TRUE(ValidateEtag(std::string(64, 'f')).ok());
  EXPECT_FALSE(ValidateEtag("../x").ok());
  EXPECT_FALSE(ValidateEtag("").ok());
}

TEST(HubCacheTest, Paths) {
  HubCache cache("/c");
  EXPECT_EQ(cache.RepoDir(kRepo), "/c/models--org--model-GGUF");
  EXPECT_EQ(cache.BlobPath(kRepo, "e1"), "/c/models--org--model-GGUF/blobs/e1");
  EXPECT_EQ(cache.IncompletePath(kRepo, "e1"), "/c/models--org--model-GGUF/blobs/e1.incomplete");
  EXPECT_EQ(cache.SnapshotPath(kRepo, kCommitA, "sub/m.gguf"),
            "/c/models--org--model-GGUF/snapshots/" + std::string(kCommitA) + "/sub/m.gguf");
  EXPECT_EQ(cache.RefPath(kRepo, "refs/pr/1"), "/c/models--org--model-GGUF/refs/refs/pr/1");
  EXPECT_EQ(cache.LockPath(kRepo, "e1"), "/c/.locks/models--org--model-GGUF/e1.lock");
}

// Writes `content` as a finished download would, then commits and links it.
std::string Pull(const HubCache& cache, std::string_view commit, const std::string& file,
                 std::string_view content) {
  std::string etag = Sha256::HexOf(content);
  WriteText(cache.IncompletePath(kRepo, etag), content);
  Result<fs::path> blob = cache.CommitBlob(kRepo, etag);
  EXPECT_TRUE(blob.ok()) << blob.error().message();
  Status linked = cache.LinkSnapshot(kRepo, commit, file, etag);
  EXPECT_TRUE(linked.ok()) << linked.error().message();
  return etag;
}

TEST(HubCacheTest, WritesTheLayoutByteForByte) {
  testing::TempDir dir;
  HubCache cache(dir.path());
  std::string top = Pull(cache, kCommitA, "model.gguf", "weights");
  std::string one = Pull(cache, kCommitA, "sub/x.gguf", "one");
  std::string two = Pull(cache, kCommitA, "a/b/y.gguf", "two");
  ASSERT_TRUE(cache.WriteRef(kRepo, "main", kCommitA).ok());
  ASSERT_TRUE(cache.WriteRef(kRepo, "refs/pr/1", kCommitA).ok());
  ASSERT_TRUE(cache.WriteRef(kRepo, kCommitA, kCommitA).ok());

  const fs::path repo = dir.path() / "models--org--model-GGUF";
  const fs::path snapshot = repo / "snapshots" / kCommitA;
  EXPECT_EQ(fs::read_symlink(snapshot / "model.gguf").string(), "../../blobs/" + top);
  EXPECT_EQ(fs::read_symlink(snapshot / "sub/x.gguf").string(), "../../../blobs/" + one);
  EXPECT_EQ(fs::read_symlink(snapshot / "a/b/y.gguf").string(), "../../../../blobs/" + two);
  EXPECT_EQ(ReadText(snapshot / "a/b/y.gguf"), "two");
  EXPECT_EQ(ReadText(repo / "blobs" / top), "weights");
  EXPECT_EQ(ReadText(repo / "refs/main"), kCommitA);  // no newline
  EXPECT_EQ(ReadText(repo / "refs/refs/pr/1"), kCommitA);
  EXPECT_FALSE(fs::exists(repo / "refs" / kCommitA));

  // Nothing else: no partial files, no temporaries.
  std::vector<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (!entry.is_directory() || entry.is_symlink()) {
      entries.push_back(entry.path().lexically_relative(repo).generic_string());
    }
  }
  std::sort(entries.begin(), entries.end());
  const std::string s = "snapshots/" + std::string(kCommitA);
  std::vector<std::string> expected = {"blobs/" + one,    "blobs/" + top,   "blobs/" + two,
                                       "refs/main",       "refs/refs/pr/1", s + "/a/b/y.gguf",
                                       s + "/model.gguf", s + "/sub/x.gguf"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(entries, expected);
}

TEST(HubCacheTest, RelinkingReplacesAStaleLink) {
  testing::TempDir dir;
  HubCache cache(dir.path());
  Pull(cache, kCommitA, "m.gguf", "old");
  std::string fresh = Pull(cache, kCommitA, "m.gguf", "new");
  fs::path link = cache.SnapshotPath(kRepo, kCommitA, "m.gguf");
  EXPECT_EQ(fs::read_symlink(link).string(), "../../blobs/" + fresh);
  EXPECT_EQ(ReadText(link), "new");
  ASSERT_TRUE(cache.WriteRef(kRepo, "main", kCommitA).ok());
  ASSERT_TRUE(cache.WriteRef(kRepo, "main", kCommitB).ok());
  EXPECT_EQ(ReadText(cache.RefPath(kRepo, "main")), kCommitB);
}

TEST(HubCacheTest, RefusesBadNamesAndMissingFiles) {
  testing::TempDir dir;
  HubCache cache(dir.path());
  std::string etag = Pull(cache, kCommitA, "m.gguf", "x");
  EXPECT_EQ(cache.LinkSnapshot(kRepo, kCommitA, "../../evil", etag).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(cache.LinkSnapshot(kRepo, "main", "m.gguf", etag).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(cache.LinkSnapshot(kRepo, kCommitA, "m.gguf", "../x").error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(cache.LinkSnapshot("bad", kCommitA, "m.gguf", etag).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(cache.WriteRef(kRepo, "../main", kCommitA).error().code(), ErrorCode::kInvalidArgument);

  Status dangling = cache.LinkSnapshot(kRepo, kCommitA, "n.gguf", std::string(64, '0'));
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(
      Contains(dangling.error().message(), cache.BlobPath(kRepo, std::string(64, '0')).string()));

  Result<fs::path> missing = cache.CommitBlob(kRepo, "feed");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(missing.error().message(), cache.IncompletePath(kRepo, "feed").string()));
}

TEST(HubCacheTest, ResolvesRevisionsAndFindsCachedFiles) {
  testing::TempDir dir;
  FakeRepo repo(dir.path(), kRepo);
  std::string etag = repo.AddBlob("weights");
  repo.Link(kCommitA, "model.gguf", etag);
  repo.Link(kCommitA, "sub/gone.gguf", std::string(64, 'e'));  // its blob never arrived
  repo.Ref("main", kCommitA);
  WriteText(repo.dir() / "refs" / "edited", std::string(kCommitB) + "\n");
  WriteText(repo.dir() / "refs" / "junk", "not a commit");

  HubCache cache(dir.path());
  EXPECT_EQ(cache.ResolveRevision(kRepo, "main"), kCommitA);
  EXPECT_EQ(cache.ResolveRevision(kRepo, kCommitA), kCommitA);
  EXPECT_EQ(cache.ResolveRevision(kRepo, "edited"), kCommitB);
  EXPECT_EQ(cache.ResolveRevision(kRepo, kCommitB), std::nullopt);  // no snapshot, no ref
  EXPECT_EQ(cache.ResolveRevision(kRepo, "junk"), std::nullopt);
  EXPECT_EQ(cache.ResolveRevision(kRepo, "v2"), std::nullopt);
  EXPECT_EQ(cache.ResolveRevision("other/repo", "main"), std::nullopt);

  EXPECT_EQ(cache.FindCached(kRepo, "main", "model.gguf"),
            repo.dir() / "snapshots" / kCommitA / "model.gguf");
  EXPECT_EQ(cache.FindCached(kRepo, kCommitA, "model.gguf"),
            repo.dir() / "snapshots" / kCommitA / "model.gguf");
  EXPECT_EQ(cache.FindCached(kRepo, "main", "sub/gone.gguf"), std::nullopt);
  EXPECT_EQ(cache.FindCached(kRepo, "main", "absent.gguf"), std::nullopt);
  EXPECT_EQ(cache.FindCached(kRepo, "main", "../refs/main"), std::nullopt);
  fs::remove(repo.dir() / "blobs" / etag);
  EXPECT_EQ(cache.FindCached(kRepo, "main", "model.gguf"), std::nullopt);
}

TEST(HubCacheTest, SnapshotFilesForOfflineSelection) {
  testing::TempDir dir;
  FakeRepo repo(dir.path(), kRepo);
  repo.Link(kCommitA, "m-Q8_0.gguf", repo.AddBlob("eight"));
  repo.Link(kCommitA, "Q4_K_M/m-Q4_K_M.gguf", repo.AddBlob("four"));
  repo.Link(kCommitA, "README.md", repo.AddBlob("readme!"));
  repo.Link(kCommitA, "dangling.gguf", std::string(64, 'e'));
  HubCache cache(dir.path());
  std::vector<RepoFile> files = cache.SnapshotFiles(kRepo, kCommitA);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, "Q4_K_M/m-Q4_K_M.gguf");
  EXPECT_EQ(files[0].size, 4u);
  EXPECT_EQ(files[1].path, "README.md");
  EXPECT_EQ(files[2].path, "m-Q8_0.gguf");
  EXPECT_EQ(files[2].size, 5u);
  Result<Selection> chosen = SelectGguf(files, "");
  ASSERT_TRUE(chosen.ok()) << chosen.error().message();
  EXPECT_EQ(chosen->files.front().path, "Q4_K_M/m-Q4_K_M.gguf");
  EXPECT_TRUE(cache.SnapshotFiles(kRepo, kCommitB).empty());
  EXPECT_TRUE(cache.SnapshotFiles(kRepo, "main").empty());
}

TEST(HubCacheTest, TheSecondPullWaitsThenFindsTheBlob) {
  testing::TempDir dir;
  HubCache cache(dir.path());
  const std::string content = "the model";
  const std::string etag = Sha256::HexOf(content);
  std::atomic<int> downloads{0};
  std::atomic<bool> first_holds{false};
  auto pull = [&] {
    Result<BlobLock> lock = cache.LockBlob(kRepo, etag);
    ASSERT_TRUE(lock.ok()) << lock.error().message();
    if (fs::exists(cache.BlobPath(kRepo, etag))) return;  // another pull got it
    first_holds = true;
    ++downloads;
    WriteText(cache.IncompletePath(kRepo, etag), content);
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(cache.CommitBlob(kRepo, etag).ok());
    ASSERT_TRUE(cache.LinkSnapshot(kRepo, kCommitA, "m.gguf", etag).ok());
  };
  std::thread first(pull);
  while (!first_holds) std::this_thread::yield();
  Result<BlobLock> busy = cache.TryLockBlob(kRepo, etag, milliseconds(0));
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(busy.error().message(), cache.LockPath(kRepo, etag).string()));
  std::thread second(pull);
  first.join();
  second.join();
  EXPECT_EQ(downloads, 1);
  EXPECT_TRUE(cache.FindCached(kRepo, kCommitA, "m.gguf").has_value());
  EXPECT_TRUE(fs::exists(cache.LockPath(kRepo, etag)));
}

TEST(HubCacheTest, LocksHoldAcrossProcesses) {
  testing::TempDir dir;
  HubCache cache(dir.path());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Result<BlobLock> lock = cache.LockBlob(kRepo, "e1");
    char byte = lock.ok() ? 'y' : 'n';
    (void)!write(ready[1], &byte, 1);
    usleep(300'000);
    _exit(0);  // the lock goes with the process
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  auto start = std::chrono::steady_clock::now();
  Result<BlobLock> timed = cache.TryLockBlob(kRepo, "e1", milliseconds(50));
  ASSERT_FALSE(timed.ok());
  EXPECT_EQ(timed.error().code(), ErrorCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
  Result<BlobLock> waited = cache.LockBlob(kRepo, "e1");
  EXPECT_TRUE(waited.ok());
  int status = 0;
  waitpid(child, &status, 0);
  close(ready[0]);
  close(ready[1]);
}

// Two snapshots sharing the GGUF blob, each with its own README, plus noise to skip.
struct TwoSnapshots {
  explicit TwoSnapshots(const fs::path& root) : repo(root, kRepo) {
    gguf = repo.AddBlob("shared weights");
    readme_a = repo.AddBlob("readme a");
    readme_b = repo.AddBlob("readme b!");
    repo.Link(kCommitA, "m-Q4_K_M.gguf", gguf);
    repo.Link(kCommitA, "README.md", readme_a);
    repo.Link(kCommitB, "m-Q4_K_M.gguf", gguf);
    repo.Link(kCommitB, "docs/README.md", readme_b);
    repo.Link(kCommitB, "gone.gguf", std::string(64, 'e'));
    repo.Ref("main", kCommitB);
    repo.Ref("v1.0", kCommitA);
    repo.Ref("refs/pr/1", kCommitB);
    FakeRepo other(root, "aaa/first");
    other.Link(kCommitA, "x.gguf", other.AddBlob("x"));
    fs::create_directories(root / "datasets--org--data" / "blobs");
    fs::create_directories(root / ".locks" / "models--org--model-GGUF");
    WriteText(root / "version.txt", "1");
  }
  FakeRepo repo;
  std::string gguf, readme_a, readme_b;
};

TEST(HubCacheTest, ListsReposSnapshotsAndFiles) {
  testing::TempDir dir;
  TwoSnapshots fake(dir.path());
  const auto before = std::chrono::system_clock::now() - std::chrono::minutes(1);
  Result<std::vector<CachedRepo>> repos = HubCache(dir.path()).List();
  ASSERT_TRUE(repos.ok()) << repos.error().message();
  ASSERT_EQ(repos->size(), 2u);
  EXPECT_EQ((*repos)[0].repo, "aaa/first");
  const CachedRepo& repo = (*repos)[1];
  EXPECT_EQ(repo.repo, kRepo);
  EXPECT_EQ(repo.dir, fake.repo.dir());
  EXPECT_EQ(repo.size, 14u + 8u + 9u);  // the shared blob once
  ASSERT_EQ(repo.snapshots.size(), 2u);

  const CachedSnapshot& b = repo.snapshots[0];  // "1111..." sorts first
  EXPECT_EQ(b.commit, kCommitB);
  EXPECT_EQ(b.refs, (std::vector<std::string>{"main", "refs/pr/1"}));
  ASSERT_EQ(b.files.size(), 2u);  // the dangling link left out
  EXPECT_EQ(b.files[0].path, "docs/README.md");
  EXPECT_FALSE(b.files[0].is_gguf);
  EXPECT_EQ(b.files[0].quant, "");
  const CachedFile& model = b.files[1];
  EXPECT_EQ(model.path, "m-Q4_K_M.gguf");
  EXPECT_TRUE(model.is_gguf);
  EXPECT_EQ(model.quant, "Q4_K_M");
  EXPECT_EQ(model.size, 14u);
  EXPECT_EQ(model.blob, fake.repo.dir() / "blobs" / fake.gguf);
  EXPECT_GT(model.last_used, before);

  const CachedSnapshot& a = repo.snapshots[1];
  EXPECT_EQ(a.commit, kCommitA);
  EXPECT_EQ(a.refs, std::vector<std::string>{"v1.0"});
  EXPECT_EQ(a.files.size(), 2u);

  testing::TempDir empty;
  Result<std::vector<CachedRepo>> none = HubCache(empty.path() / "absent").List();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HubCacheTest, RemovingAFileKeepsABlobAnotherSnapshotUses) {
  testing::TempDir dir;
  TwoSnapshots fake(dir.path());
  HubCache cache(dir.path());
  const fs::path blob = fake.repo.dir() / "blobs" / fake.gguf;

  Result<uint64_t> freed = cache.RemoveFile(kRepo, "m-Q4_K_M.gguf", "v1.0");
  ASSERT_TRUE(freed.ok()) << freed.error().message();
  EXPECT_EQ(*freed, 0u);
  EXPECT_TRUE(fs::exists(blob));
  EXPECT_FALSE(fs::exists(cache.SnapshotPath(kRepo, kCommitA, "m-Q4_K_M.gguf")));
  EXPECT_TRUE(fs::exists(cache.SnapshotPath(kRepo, kCommitA, "README.md")));

  // Its last file gone, snapshot A goes, and the ref naming it.
  freed = cache.RemoveFile(kRepo, "README.md", "v1.0");
  ASSERT_TRUE(freed.ok()) << freed.error().message();
  EXPECT_EQ(*freed, 8u);
  EXPECT_FALSE(fs::exists(fake.repo.dir() / "snapshots" / kCommitA));
  EXPECT_FALSE(fs::exists(fake.repo.dir() / "refs" / "v1.0"));
  EXPECT_TRUE(fs::exists(fake.repo.dir() / "refs" / "main"));

  freed = cache.RemoveFile(kRepo, "m-Q4_K_M.gguf");
  ASSERT_TRUE(freed.ok()) << freed.error().message();
  EXPECT_EQ(*freed, 14u);
  EXPECT_FALSE(fs::exists(blob));

  Result<uint64_t> again = cache.RemoveFile(kRepo, "m-Q4_K_M.gguf");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(again.error().message(), fake.repo.dir().string()));
  EXPECT_EQ(cache.RemoveFile(kRepo, "README.md", "v9").error().code(), ErrorCode::kNotFound);

  // The last real file: the repo goes (refs, the dangling link and all).
  ASSERT_TRUE(cache.RemoveFile(kRepo, "docs/README.md").ok());
  ASSERT_TRUE(cache.RemoveFile(kRepo, "gone.gguf").ok());
  EXPECT_FALSE(fs::exists(fake.repo.dir()));
}

TEST(HubCacheTest, RemovingARepo) {
  testing::TempDir dir;
  TwoSnapshots fake(dir.path());
  HubCache cache(dir.path());
  Result<uint64_t> freed = cache.RemoveRepo(kRepo);
  ASSERT_TRUE(freed.ok()) << freed.error().message();
  EXPECT_EQ(*freed, 14u + 8u + 9u + 3u * 40u);  // blobs and refs
  EXPECT_FALSE(fs::exists(fake.repo.dir()));
  EXPECT_TRUE(fs::exists(cache.RepoDir("aaa/first")));
  Result<uint64_t> again = cache.RemoveRepo(kRepo);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
}

TEST(HubCacheTest, ARepoBeingDownloadedIsNotRemoved) {
  testing::TempDir dir;
  TwoSnapshots fake(dir.path());
  HubCache cache(dir.path());
  WriteText(cache.IncompletePath(kRepo, "feed"), "part");
  {
    Result<BlobLock> downloading = cache.LockBlob(kRepo, "feed");
    ASSERT_TRUE(downloading.ok());
    Result<uint64_t> refused = cache.RemoveRepo(kRepo);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(fs::exists(fake.repo.dir()));
  }
  EXPECT_TRUE(cache.RemoveRepo(kRepo).ok());
}

TEST(HubCacheTest, VerifyFindsCorruptionAndLeftovers) {
  testing::TempDir dir;
  TwoSnapshots fake(dir.path());
  HubCache cache(dir.path());
  const fs::path blobs = fake.repo.dir() / "blobs";
  WriteText(blobs / kHelloSha1, "hello\n");
  WriteText(blobs / std::string(40, 'a'), "hello\n");  // a wrong sha1
  WriteText(blobs / "not-a-hash", "?");
  WriteText(blobs / "feed.incomplete", "partial");

  Result<VerifyReport> clean = cache.Verify("aaa/first");
  ASSERT_TRUE(clean.ok()) << clean.error().message();
  EXPECT_TRUE(clean->ok());
  EXPECT_EQ(clean->blobs_checked, 1u);

  std::string flipped = "shared weights";
  flipped[3] ^= 1;
  WriteText(blobs / fake.gguf, flipped);
  std::vector<fs::path> heard;
  Result<VerifyReport> report =
      cache.Verify({}, [&](const fs::path& blob, uint64_t) { heard.push_back(blob); });
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_EQ(report->blobs_checked, 6u);  // 3 + 2 sha1 here, 1 in aaa/first
  EXPECT_EQ(heard.size(), 6u);
  EXPECT_EQ(report->blobs_unchecked, 1u);
  std::map<VerifyIssue::Kind, std::vector<VerifyIssue>> by_kind;
  for (const VerifyIssue& issue : report->issues) by_kind[issue.kind].push_back(issue);

  std::vector<VerifyIssue>& mismatches = by_kind[VerifyIssue::Kind::kMismatch];
  ASSERT_EQ(mismatches.size(), 2u);
  std::sort(mismatches.begin(), mismatches.end(),
            [](const auto& x, const auto& y) { return x.expected.size() < y.expected.size(); });
  const VerifyIssue& sha1 = mismatches[0];
  EXPECT_EQ(sha1.expected, std::string(40, 'a'));
  EXPECT_EQ(sha1.actual, kHelloSha1);
  const VerifyIssue& sha256 = mismatches[1];
  EXPECT_EQ(sha256.repo, kRepo);
  EXPECT_EQ(sha256.path, blobs / fake.gguf);
  EXPECT_EQ(sha256.expected, fake.gguf);
  EXPECT_EQ(sha256.actual, Sha256::HexOf(flipped));

  ASSERT_EQ(by_kind[VerifyIssue::Kind::kIncomplete].size(), 1u);
  EXPECT_EQ(by_kind[VerifyIssue::Kind::kIncomplete][0].path, blobs / "feed.incomplete");
  EXPECT_TRUE(Contains(by_kind[VerifyIssue::Kind::kIncomplete][0].detail, "left over"));
  ASSERT_EQ(by_kind[VerifyIssue::Kind::kDanglingLink].size(), 1u);
  EXPECT_EQ(by_kind[VerifyIssue::Kind::kDanglingLink][0].path,
            fake.repo.dir() / "snapshots" / kCommitB / "gone.gguf");

  Result<BlobLock> downloading = cache.LockBlob(kRepo, "feed");
  ASSERT_TRUE(downloading.ok());
  Result<VerifyReport> during = cache.Verify(kRepo);
  ASSERT_TRUE(during.ok());
  bool in_progress = false;
  for (const VerifyIssue& issue : during->issues) {
    in_progress |=
        issue.kind == VerifyIssue::Kind::kIncomplete && Contains(issue.detail, "in progress");
  }
  EXPECT_TRUE(in_progress);
  EXPECT_EQ(cache.Verify("no/such").error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace wick::hub
