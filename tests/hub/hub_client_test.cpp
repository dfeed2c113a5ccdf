#include "hub/hub_client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "hub/fake_hub.h"
#include "test_support.h"

namespace wick::hub {
namespace {

using testing::FakeFile;
using testing::FakeHub;
using testing::FakeMode;

constexpr char kRepo[] = "org/model";
constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

std::string Bytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

HubOptions Options(const FakeHub& hub, std::string token = "") {
  HubOptions o;
  o.endpoint = hub.endpoint();
  o.token = std::move(token);
  o.timeout = std::chrono::seconds(5);
  return o;
}

using wick::testing::ScopedEnv;

class HubClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_.AddRepo(kRepo, kCommit,
                 {FakeFile{"model-q4_k_m.gguf", gguf_, "", true},
                  FakeFile{"config.json", config_, "", false},
                  FakeFile{"sub dir/extra.bin", Bytes(100, 3), "", true}});
  }

  FakeHub hub_;
  const std::string gguf_ = Bytes(200000, 1);
  const std::string config_ = "{\"architectures\": [\"Qwen2ForCausalLM\"]}";
};

TEST_F(HubClientTest, InfoListsFilesWithSizesAndLfsHashes) {
  HubClient client(Options(hub_));
  Result<RepoInfo> info = client.Info(kRepo, "main");
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->commit, kCommit);
  EXPECT_FALSE(info->gated);
  ASSERT_EQ(info->files.size(), 3u);
  const RemoteFile* gguf = info->Find("model-q4_k_m.gguf");
  ASSERT_NE(gguf, nullptr);
  EXPECT_TRUE(gguf->lfs);
  EXPECT_EQ(gguf->size, 200000);
  EXPECT_EQ(gguf->sha256, Sha256::HexOf(gguf_));
  EXPECT_EQ(gguf->etag, gguf->sha256);
  const RemoteFile* config = info->Find("config.json");
  ASSERT_NE(config, nullptr);
  EXPECT_FALSE(config->lfs);
  EXPECT_TRUE(config->sha256.empty());
  EXPECT_EQ(config->size, static_cast<int64_t>(config_.size()));
  EXPECT_EQ(config->etag, config->blob_id);
  EXPECT_EQ(config->etag.size(), 40u);
  EXPECT_NE(info->Find("sub dir/extra.bin"), nullptr);
  EXPECT_EQ(info->Find("missing"), nullptr);
  // By commit as well as by branch.
  Result<RepoInfo> pinned = client.Info(kRepo, kCommit);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message();
  EXPECT_EQ(pinned->commit, kCommit);
}

TEST_F(HubClientTest, InfoSaysWhichPartIsMissing) {
  HubClient anonymous(Options(hub_));
  Result<RepoInfo> no_repo = anonymous.Info("org/nothing", "main");
  ASSERT_FALSE(no_repo.ok());
  EXPECT_EQ(no_repo.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(no_repo.error().message().find("repository 'org/nothing' not found"), std::string::npos)
      << no_repo.error().message();
  // Anonymous: the hub answers 401 for private repositories too, so the hint names a token.
  EXPECT_NE(no_repo.error().message().find("HF_TOKEN"), std::string::npos);

  Result<RepoInfo> no_rev = anonymous.Info(kRepo, "v9");
  ASSERT_FALSE(no_rev.ok());
  EXPECT_EQ(no_rev.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(no_rev.error().message().find("revision 'v9' not found in repository 'org/model'"),
            std::string::npos)
      << no_rev.error().message();
}

TEST_F(HubClientTest, TokenErrorsSayWhatToDo) {
  FakeMode mode;
  mode.token = "right";
  hub_.SetRepoMode(kRepo, mode);

  Result<RepoInfo> anonymous = HubClient(Options(hub_)).Info(kRepo, "main");
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.error().code(), ErrorCode::kInvalidArgument);
  const std::string& needs = anonymous.error().message();
  EXPECT_NE(needs.find("needs a token"), std::string::npos) << needs;
  EXPECT_NE(needs.find("HF_TOKEN"), std::string::npos) << needs;
  EXPECT_NE(needs.find("huggingface-cli login"), std::string::npos) << needs;

  Result<FileMeta> wrong = HubClient(Options(hub_, "wrong")).Head(kRepo, "main", "config.json");
  ASSERT_FALSE(wrong.ok());
  const std::string& gated = wrong.error().message();
  EXPECT_NE(gated.find("gated"), std::string::npos) << gated;
  EXPECT_NE(gated.find(hub_.endpoint() + "/org/model"), std::string::npos) << gated;
  EXPECT_EQ(gated.find("wrong"), std::string::npos) << "the token leaked: " << gated;

  Result<RepoInfo> right = HubClient(Options(hub_, "right")).Info(kRepo, "main");
  ASSERT_TRUE(right.ok()) << right.error().message();
  EXPECT_TRUE(right->gated);
  EXPECT_EQ(hub_.last_hub_authorization(), "Bearer right");
}

TEST_F(HubClientTest, HeadOfLfsFileStopsAtTheCdnRedirect) {
  HubClient client(Options(hub_));
  Result<FileMeta> meta = client.Head(kRepo, "main", "model-q4_k_m.gguf");
  ASSERT_TRUE(meta.ok()) << meta.error().message();
  const std::string sha = Sha256::HexOf(gguf_);
  EXPECT_EQ(meta->commit, kCommit);
  EXPECT_TRUE(meta->lfs);
  EXPECT_EQ(meta->etag, sha);
  EXPECT_EQ(meta->size, 200000);
  EXPECT_EQ(meta->url, hub_.cdn_endpoint() + "/cdn/" + sha);
  EXPECT_EQ(hub_.requests("/cdn/" + sha), 0) << "HEAD must not follow to the CDN";
}

TEST_F(HubClientTest, HeadOfRegularFileIsTheResolveUrl) {
  HubClient client(Options(hub_));
  Result<FileMeta> meta = client.Head(kRepo, kCommit, "config.json");
  ASSERT_TRUE(meta.ok()) << meta.error().message();
  EXPECT_FALSE(meta->lfs);
  EXPECT_EQ(meta->commit, kCommit);
  EXPECT_EQ(meta->etag.size(), 40u);
  EXPECT_EQ(meta->size, static_cast<int64_t>(config_.size()));
  EXPECT_EQ(meta->url, client.ResolveUrl(kRepo, kCommit, "config.json"));
}

TEST_F(HubClientTest, HeadSaysWhichPartIsMissing) {
  HubClient client(Options(hub_, "any"));
  Result<FileMeta> file = client.Head(kRepo, "main", "nope.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(
      file.error().message().find("file 'nope.gguf' not found in 'org/model' at revision 'main'"),
      std::string::npos)
      << file.error().message();
  Result<FileMeta> rev = client.Head(kRepo, "v2", "config.json");
  ASSERT_FALSE(rev.ok());
  EXPECT_NE(rev.error().message().find("revision 'v2'"), std::string::npos);
  Result<FileMeta> repo = client.Head("org/gone", "main", "config.json");
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(repo.error().message().find("repository 'org/gone' not found"), std::string::npos)
      << repo.error().message();
}

TEST_F(HubClientTest, TokenReachesTheHubButNotTheCdn) {
  FakeMode mode;
  mode.token = "secret";
  hub_.SetRepoMode(kRepo, mode);
  HubClient client(Options(hub_, "secret"));
  const std::string resolve = client.ResolveUrl(kRepo, "main", "model-q4_k_m.gguf");
  DownloadOptions to_hub = client.DownloadOptionsFor(resolve);
  EXPECT_EQ(to_hub.bearer_token, "secret");
  Result<FileMeta> meta = client.Head(kRepo, "main", "model-q4_k_m.gguf");
  ASSERT_TRUE(meta.ok()) << meta.error().message();
  EXPECT_TRUE(client.DownloadOptionsFor(meta->url).bearer_token.empty());

  // Through the resolve URL, libcurl follows the 302 to the CDN's other port without the
  // token (the fake CDN answers 400 to a request that carries one, as S3 does).
  wick::testing::TempDir dir;
  const std::string path = dir.File("model.incomplete").string();
  Result<DownloadStats> stats = Download(resolve, path, meta->size, meta->etag, to_hub);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(hub_.last_hub_authorization(), "Bearer secret");
  EXPECT_FALSE(hub_.cdn_saw_authorization());
  EXPECT_EQ(hub_.requests("/cdn/" + meta->etag), 1);
}

TEST_F(HubClientTest, OfflineModeSendsNothing) {
  HubOptions o = Options(hub_);
  o.offline = true;
  Result<RepoInfo> info = HubClient(o).Info(kRepo, "main");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(info.error().message().find("HF_HUB_OFFLINE"), std::string::npos);
  EXPECT_EQ(hub_.requests("/api/models/org/model/revision/main"), 0);
}

TEST(HubClient, NetworkErrorsNameTheUrlNotTheToken) {
  HubOptions o;
  o.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  o.token = "hf_supersecret";
  o.timeout = std::chrono::seconds(5);
  Result<FileMeta> meta = HubClient(o).Head(kRepo, "main", "model.gguf");
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(meta.error().message().find("http://127.0.0.1:1/org/model/resolve/main/model.gguf"),
            std::string::npos)
      << meta.error().message();
  EXPECT_EQ(meta.error().message().find("supersecret"), std::string::npos);
}

TEST(HubClient, UrlsEscapeRevisionsWholeAndPathsButTheirSlashes) {
  HubOptions o;
  o.endpoint = "https://hub.example/";
  HubClient client(o);
  EXPECT_EQ(client.options().endpoint, "https://hub.example");
  EXPECT_EQ(client.ResolveUrl("org/m", "refs/pr/1", "a b/c+d.gguf"),
            "https://hub.example/org/m/resolve/refs%2Fpr%2F1/a%20b/c%2Bd.gguf");
}

TEST(HubClient, OptionsFromTheEnvironment) {
  ScopedEnv endpoint("HF_ENDPOINT", "http://mirror.example:8080/");
  ScopedEnv token("HF_TOKEN", " hf_abc\n");
  ScopedEnv legacy("HUGGING_FACE_HUB_TOKEN", std::nullopt);
  ScopedEnv offline("HF_HUB_OFFLINE", "yes");
  ScopedEnv etag("HF_HUB_ETAG_TIMEOUT", "3");
  ScopedEnv download("HF_HUB_DOWNLOAD_TIMEOUT", "45");
  const HubOptions o = HubOptions::FromEnvironment();
  EXPECT_EQ(o.endpoint, "http://mirror.example:8080");
  EXPECT_EQ(o.token, "hf_abc");
  EXPECT_TRUE(o.offline);
  EXPECT_EQ(o.timeout, std::chrono::seconds(3));
  EXPECT_EQ(o.download_timeout, std::chrono::seconds(45));
  EXPECT_EQ(o.user_agent.rfind("wick/", 0), 0u) << o.user_agent;
  EXPECT_EQ(HubClient(o).DownloadOptionsFor("http://mirror.example:8080/x").stall_timeout,
            std::chrono::seconds(45));
}

TEST(HubClient, TokenFileFromLogin) {
  wick::testing::TempDir home;
  ScopedEnv token("HF_TOKEN", std::nullopt);
  ScopedEnv legacy("HUGGING_FACE_HUB_TOKEN", std::nullopt);
  ScopedEnv token_path("HF_TOKEN_PATH", std::nullopt);
  ScopedEnv hf_home("HF_HOME", home.path().string());
  EXPECT_EQ(HfHome(), home.path().string());
  EXPECT_EQ(TokenFromEnvironment(), "");
  std::ofstream(home.File("token")) << "hf_fromfile\n";
  EXPECT_EQ(TokenFromEnvironment(), "hf_fromfile");
  std::ofstream(home.File("other")) << "hf_other";
  ScopedEnv other("HF_TOKEN_PATH", home.File("other").string());
  EXPECT_EQ(TokenFromEnvironment(), "hf_other");
}

TEST(HubClient, HfHomeDefaultsUnderTheCache) {
  ScopedEnv hf_home("HF_HOME", std::nullopt);
  ScopedEnv xdg("XDG_CACHE_HOME", "/x/cache");
  EXPECT_EQ(HfHome(), "/x/cache/huggingface");
  ScopedEnv no_xdg("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv user("HOME", "/home/u");
  EXPECT_EQ(HfHome(), "/home/u/.cache/huggingface");
}

TEST(HubClient, ServesARealModelFile) {
  WICK_REQUIRE_SHARED(shared);
  FakeHub hub;
  hub.AddRepo(
      "ggml/stories", kCommit,
      {FakeFile{"stories260K.gguf", "", (shared / "models/stories260K.gguf").string(), true}});
  HubClient client(Options(hub));
  Result<RepoInfo> info = client.Info("ggml/stories", "main");
  ASSERT_TRUE(info.ok()) << info.error().message();
  ASSERT_EQ(info->files.size(), 1u);
  // The sha256 in ../shared/models/SOURCES.md.
  const std::string sha = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
  EXPECT_EQ(info->files[0].sha256, sha);
  Result<FileMeta> meta = client.Head("ggml/stories", "main", "stories260K.gguf");
  ASSERT_TRUE(meta.ok()) << meta.error().message();
  wick::testing::TempDir dir;
  Result<DownloadStats> stats = Download(meta->url, dir.File("s.incomplete").string(), meta->size,
                                         meta->etag, client.DownloadOptionsFor(meta->url));
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->size, 1185376);
  EXPECT_EQ(stats->sha256, sha);
}

}  // namespace
}  // namespace wick::hub
