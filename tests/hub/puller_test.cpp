// Pulling models from a fake hub into a temp hub cache: the layout huggingface_hub writes, the
// cache reused without a download, split models, resuming a killed download, a corrupted byte
// caught, offline and unreachable hubs, concurrent pulls of one file, and peers (a good one
// used, a lying one caught and the hub asked instead).
#include "hub/puller.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/sha256.h"
#include "hub/fake_hub.h"
#include "io/gguf_file.h"
#include "io/gguf_split.h"
#include "test_support.h"

namespace wick::hub {
namespace {

namespace fs = std::filesystem;
using testing::FakeFile;
using testing::FakeHub;
using testing::FakeMode;

constexpr char kRepo[] = "org/tiny-GGUF";
constexpr char kCommit[] = "89abcdef0123456789abcdef0123456789abcdef";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    q8_path_ = (shared / "models/stories260K.gguf").string();
    q4_path_ = (shared / "models/stories260K-q4_k.gguf").string();
    hub_.AddRepo(kRepo, kCommit,
                 {{.path = "README.md", .bytes = "# tiny\n", .disk_path = "", .lfs = false},
                  {.path = "tiny-Q8_0.gguf", .bytes = "", .disk_path = q8_path_, .lfs = true},
                  {.path = "tiny-Q4_K_M.gguf", .bytes = "", .disk_path = q4_path_, .lfs = true}});
    cache_ = std::make_unique<HubCache>(dir_.path() / "hub");
  }

  HubClient Client(bool offline = false) const {
    HubOptions o;
    o.endpoint = hub_.endpoint();
    o.timeout = std::chrono::seconds(5);
    o.offline = offline;
    return HubClient(o);
  }

  Result<PullResult> Pull(const std::string& text, const PullOptions& options = {},
                          bool offline = false) {
    Result<ModelRef> ref = ParseModelRef(text);
    if (!ref.ok()) return std::move(ref).error();
    return hub::Pull(*ref, *cache_, Client(offline), options);
  }

  int CdnRequests(const std::string& repo_path) const {
    return hub_.requests("/cdn/" + hub_.Sha256Of(kRepo, repo_path));
  }

  wick::testing::TempDir dir_;
  FakeHub hub_;
  std::unique_ptr<HubCache> cache_;
  std::string q8_path_, q4_path_;
};

TEST_F(PullerTest, PullsIntoTheHubLayoutThenUsesTheCache) {
  Result<PullResult> pulled = Pull(std::string(kRepo) + ":q4_k_m");
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->commit, kCommit);
  EXPECT_EQ(pulled->quant, "Q4_K_M");
  ASSERT_EQ(pulled->files.size(), 1u);
  EXPECT_EQ(pulled->files[0].source, "hub");
  EXPECT_GT(pulled->bytes_downloaded(), 0u);
  EXPECT_EQ(pulled->files[0].size, fs::file_size(q4_path_));

  // models--org--tiny-GGUF/{refs/main, blobs/<sha256>, snapshots/<commit>/file -> ../../blobs}
  const fs::path repo = dir_.path() / "hub" / "models--org--tiny-GGUF";
  const std::string sha = hub_.Sha256Of(kRepo, "tiny-Q4_K_M.gguf");
  EXPECT_EQ(ReadAll(repo / "refs" / "main"), kCommit);
  const fs::path link = repo / "snapshots" / kCommit / "tiny-Q4_K_M.gguf";
  EXPECT_EQ(pulled->model_path(), link);
  ASSERT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link).string(), "../../blobs/" + sha);
  EXPECT_EQ(Sha256::HexOfFile(link.string()).value_or(""), sha);
  EXPECT_EQ(ReadAll(link), ReadAll(q4_path_));
  EXPECT_FALSE(fs::exists(repo / "blobs" / (sha + ".incomplete")));
  Result<GgufFile> opened = GgufFile::Open(link.string());
  EXPECT_TRUE(opened.ok()) << opened.error().message();

  // Again: asked the hub for the commit, downloaded nothing.
  Result<PullResult> again = Pull(std::string(kRepo) + ":q4_k_m");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->files[0].source, "cache");
  EXPECT_EQ(CdnRequests("tiny-Q4_K_M.gguf"), 1);

  // Offline: the same file from the refs and snapshot alone.
  Result<PullResult> offline = Pull(std::string(kRepo) + ":Q4_K_M", {}, /*offline=*/true);
  ASSERT_TRUE(offline.ok()) << offline.error().message();
  EXPECT_EQ(offline->model_path(), link);
  EXPECT_FALSE(offline->from_hub);
  Result<PullResult> missing = Pull(std::string(kRepo) + ":Q8_0", {}, /*offline=*/true);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("offline"), std::string::npos)
      << missing.error().message();
}

TEST_F(PullerTest, ASplitModelComesWholeAndOpensFromItsFirstPart) {
  Result<GgufFile> whole = GgufFile::Open(q8_path_);
  ASSERT_TRUE(whole.ok());
  const std::string prefix = (dir_.path() / "split" / "tiny-F32").string();
  fs::create_directories(dir_.path() / "split");
  ASSERT_TRUE(WriteGgufSplit(*whole, prefix, 3).ok());
  std::vector<FakeFile> files;
  for (int i = 1; i <= 3; ++i) {
    const std::string part = GgufSplitPath(prefix, i, 3);
    files.push_back({.path = "F32/" + fs::path(part).filename().string(),
                     .bytes = "",
                     .disk_path = part,
                     .lfs = true});
  }
  hub_.AddRepo("org/split-GGUF", kCommit, files);
  Result<PullResult> pulled = Pull("org/split-GGUF:f32");
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  ASSERT_EQ(pulled->files.size(), 3u);
  EXPECT_EQ(pulled->model_path().filename(), "tiny-F32-00001-of-00003.gguf");
  // Nested: the links climb one more level.
  EXPECT_EQ(fs::read_symlink(pulled->files[1].local).string().rfind("../../../blobs/", 0), 0u);
  Result<GgufFile> opened = GgufFile::Open(pulled->model_path().string());
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened->tensors().size(), whole->tensors().size());
}

TEST_F(PullerTest, AKilledDownloadResumesFromItsPartialFile) {
  const std::string sha = hub_.Sha256Of(kRepo, "tiny-Q8_0.gguf");
  const std::string bytes = ReadAll(q8_path_);
  const fs::path incomplete = cache_->IncompletePath(kRepo, sha);
  fs::create_directories(incomplete.parent_path());
  {
    std::ofstream out(incomplete, std::ios::binary);
    out.write(bytes.data(), 400'000);
  }
  Result<PullResult> pulled = Pull(std::string(kRepo) + ":Q8_0");
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_TRUE(pulled->files[0].download.resumed);
  EXPECT_EQ(pulled->files[0].download.resumed_from, 400'000);
  std::vector<std::string> ranges = hub_.cdn_ranges();
  ASSERT_FALSE(ranges.empty());
  EXPECT_EQ(ranges.front(), "bytes=400000-");
  EXPECT_EQ(ReadAll(pulled->model_path()), bytes);
}

TEST_F(PullerTest, ACorruptedByteIsCaughtAndNothingIsPlaced) {
  FakeMode flip;
  flip.flip_byte = true;
  hub_.SetRepoMode(kRepo, flip);
  Result<PullResult> pulled = Pull(std::string(kRepo) + ":Q8_0");
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.error().code(), ErrorCode::kCorrupt);
  const std::string sha = hub_.Sha256Of(kRepo, "tiny-Q8_0.gguf");
  EXPECT_NE(pulled.error().message().find(sha), std::string::npos) << pulled.error().message();
  EXPECT_FALSE(fs::exists(cache_->BlobPath(kRepo, sha)));
  EXPECT_FALSE(fs::exists(cache_->IncompletePath(kRepo, sha)));
  EXPECT_FALSE(cache_->FindCached(kRepo, kCommit, "tiny-Q8_0.gguf").has_value());
  // Fixed on the hub: the next pull succeeds.
  hub_.SetRepoMode(kRepo, FakeMode{});
  EXPECT_TRUE(Pull(std::string(kRepo) + ":Q8_0").ok());
}

TEST_F(PullerTest, ConcurrentPullsOfOneFileDownloadItOnce) {
  FakeMode slow;
  slow.bytes_per_second = 4 << 20;  // ~0.3 s for the file: the pulls overlap
  hub_.SetRepoMode(kRepo, slow);
  std::vector<std::thread> threads;
  std::vector<Result<PullResult>> results(4, Error(ErrorCode::kIo, "not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Pull(std::string(kRepo) + ":Q8_0"); });
  }
  for (std::thread& t : threads) t.join();
  int downloaded = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().message();
    downloaded += r->files[0].source == "hub" ? 1 : 0;
    EXPECT_EQ(ReadAll(r->model_path()), ReadAll(q8_path_));
  }
  EXPECT_EQ(downloaded, 1);
  EXPECT_EQ(CdnRequests("tiny-Q8_0.gguf"), 1);
}

TEST_F(PullerTest, AnUnreachableHubFallsBackToTheCache) {
  ASSERT_TRUE(Pull(std::string(kRepo) + ":Q4_K_M").ok());
  HubOptions o;
  o.endpoint = "http://127.0.0.1:1";  // nothing listens there
  o.timeout = std::chrono::seconds(2);
  std::string note;
  PullOptions options;
  options.on_note = [&](const std::string& n) { note = n; };
  Result<ModelRef> ref = ParseModelRef(std::string(kRepo) + ":Q4_K_M");
  Result<PullResult> pulled = hub::Pull(*ref, *cache_, HubClient(o), options);
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->files[0].source, "cache");
  EXPECT_NE(note.find("cached copy"), std::string::npos) << note;
  // Refusals are not unreachability: a 404 stays an error.
  Result<PullResult> unknown = Pull("org/unknown-GGUF");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
}

// A wick peer (`serve --share-cache`) answers GET /v1/blobs/{sha256}; this one serves either
// the right bytes or bytes with one changed.
class FakePeer {
 public:
  FakePeer(std::string bytes, bool lie) : bytes_(std::move(bytes)) {
    if (lie) bytes_[bytes_.size() / 3] ^= 0x20;
    server_.Get(R"(/v1/blobs/([0-9a-f]{64}))",
                [this](const httplib::Request&, httplib::Response& res) {
                  ++requests_;
                  res.set_content(bytes_, "application/octet-stream");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakePeer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }

 private:
  std::string bytes_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

TEST_F(PullerTest, AGoodPeerIsUsedAndALyingOneCannotPlantAFile) {
  FakePeer liar(ReadAll(q8_path_), /*lie=*/true);
  FakePeer honest(ReadAll(q8_path_), /*lie=*/false);
  PullOptions options;
  options.peers = {liar.url(), honest.url()};
  std::vector<std::string> notes;
  options.on_note = [&](const std::string& n) { notes.push_back(n); };
  Result<PullResult> pulled = Pull(std::string(kRepo) + ":Q8_0", options);
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->files[0].source, honest.url());
  EXPECT_EQ(liar.requests(), 1);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("sha256"), std::string::npos) << notes[0];
  EXPECT_EQ(CdnRequests("tiny-Q8_0.gguf"), 0);  // the hub gave the hash, not the bytes
  EXPECT_EQ(ReadAll(pulled->model_path()), ReadAll(q8_path_));

  // Only liars: the hub's bytes after all.
  PullOptions liars;
  liars.peers = {liar.url()};
  Result<PullResult> from_hub = Pull(std::string(kRepo) + ":Q4_K_M", liars);
  ASSERT_TRUE(from_hub.ok()) << from_hub.error().message();
  EXPECT_EQ(from_hub->files[0].source, "hub");
}

TEST_F(PullerTest, OfflinePeersNeedTheHashAndTheCommit) {
  FakePeer honest(ReadAll(q8_path_), /*lie=*/false);
  PullOptions options;
  options.peers = {honest.url()};
  options.sha256 = hub_.Sha256Of(kRepo, "tiny-Q8_0.gguf");
  Result<PullResult> no_commit = Pull(std::string(kRepo) + ":tiny-Q8_0.gguf", options, true);
  ASSERT_FALSE(no_commit.ok());
  EXPECT_NE(no_commit.error().message().find("commit"), std::string::npos);
  options.revision = kCommit;
  // A hash the bytes do not have: nothing is placed.
  const std::string right = options.sha256;
  options.sha256 = std::string(64, 'a');
  Result<PullResult> wrong = Pull(std::string(kRepo) + ":tiny-Q8_0.gguf", options, true);
  EXPECT_FALSE(wrong.ok());
  EXPECT_FALSE(cache_->FindCached(kRepo, kCommit, "tiny-Q8_0.gguf").has_value());
  options.sha256 = right;
  Result<PullResult> pulled = Pull(std::string(kRepo) + ":tiny-Q8_0.gguf", options, true);
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->files[0].source, honest.url());
  EXPECT_EQ(hub_.requests("/api/models/org/tiny-GGUF/revision/main"), 0);
  EXPECT_EQ(ReadAll(pulled->model_path()), ReadAll(q8_path_));
}

}  // namespace
}  // namespace wick::hub
