// The hub from the command line, against the fake hub (HF_ENDPOINT) and a temp cache
// (HF_HUB_CACHE): `wick run org/name:QUANT` pulls, verifies, caches and runs, and the second
// run needs no network; `wick pull`, `list`, `verify` and `rm`; the errors users meet.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "hub/fake_hub.h"
#include "server/serve_process.h"
#include "test_support.h"

namespace wick::hub {
namespace {

namespace fs = std::filesystem;
using testing::FakeFile;
using testing::FakeHub;
using testing::FakeMode;
using Json = nlohmann::json;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

using wick::testing::ScopedEnv;

class HubCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    model_ = (shared / "models/stories260K.gguf").string();
    hub_.AddRepo("org/tiny-GGUF", kCommit,
                 {{.path = "tiny-Q8_0.gguf", .bytes = "", .disk_path = model_, .lfs = true},
                  {.path = "tiny-Q4_K_M.gguf",
                   .bytes = "",
                   .disk_path = (shared / "models/stories260K-q4_k.gguf").string(),
                   .lfs = true}});
    endpoint_.emplace("HF_ENDPOINT", hub_.endpoint());
    cache_.emplace("HF_HUB_CACHE", (dir_.path() / "hub").string());
    offline_.emplace("HF_HUB_OFFLINE", std::nullopt);
    token_.emplace("HF_TOKEN", std::nullopt);
    home_.emplace("HF_HOME", (dir_.path() / "hf-home").string());
  }

  std::vector<std::string> RunArgs(const std::string& model) const {
    return {"run", model, "-p", "Once upon a time", "-n", "8", "--temp", "0", "-t", "1"};
  }

  wick::testing::TempDir dir_;
  FakeHub hub_;
  std::string model_;
  std::optional<ScopedEnv> endpoint_, cache_, offline_, token_, home_;
};

TEST_F(HubCliTest, RunPullsOnceThenRunsWithoutTheNetwork) {
  wick::testing::CommandResult direct = wick::testing::RunWick(RunArgs(model_));
  ASSERT_EQ(direct.exit_code, 0) << direct.err;

  wick::testing::CommandResult first = wick::testing::RunWick(RunArgs("org/tiny-GGUF:q8_0"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, direct.out);
  EXPECT_NE(first.err.find("pulled tiny-Q8_0.gguf"), std::string::npos) << first.err;
  const int api_calls = hub_.requests("/api/models/org/tiny-GGUF/revision/main");
  EXPECT_EQ(api_calls, 1);

  // No hub at all now: the cache answers, and nothing is copied.
  ScopedEnv dead("HF_ENDPOINT", "http://127.0.0.1:1");
  wick::testing::CommandResult second = wick::testing::RunWick(RunArgs("org/tiny-GGUF:q8_0"));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, direct.out);
  EXPECT_EQ(second.err.find("pulled"), std::string::npos) << second.err;
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() / "hub")) {
    files += e.is_regular_file() && e.path().parent_path().filename() == "blobs" ? 1 : 0;
  }
  EXPECT_EQ(files, 1u);  // one blob, however many runs
}

TEST_F(HubCliTest, PullListVerifyRemove) {
  wick::testing::CommandResult pulled =
      wick::testing::RunWick({"pull", "org/tiny-GGUF:Q4_K_M", "--quiet"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  const std::string path = pulled.out.substr(0, pulled.out.find('\n'));
  EXPECT_TRUE(fs::is_symlink(path)) << path;
  EXPECT_NE(path.find("models--org--tiny-GGUF/snapshots/" + std::string(kCommit)),
            std::string::npos);
  ASSERT_EQ(wick::testing::RunWick({"pull", "org/tiny-GGUF:Q8_0", "-q"}).exit_code, 0);
  // Pulling again asks the hub but downloads nothing; the hf:// spelling is the same file.
  wick::testing::CommandResult again = wick::testing::RunWick({"pull", "org/tiny-GGUF:Q8_0"});
  EXPECT_NE(again.err.find("already in the cache"), std::string::npos) << again.err;
  wick::testing::CommandResult url =
      wick::testing::RunWick({"pull", "hf://org/tiny-GGUF/tiny-Q8_0.gguf", "-q"});
  ASSERT_EQ(url.exit_code, 0) << url.err;
  EXPECT_EQ(url.out, again.out);

  wick::testing::CommandResult listed = wick::testing::RunWick({"list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  Json rows = Json::parse(listed.out);
  ASSERT_EQ(rows.size(), 2u) << listed.out;
  EXPECT_EQ(rows[0]["repo"], "org/tiny-GGUF");
  std::set<std::string> quants = {rows[0]["quant"], rows[1]["quant"]};
  EXPECT_EQ(quants, (std::set<std::string>{"Q4_K_M", "Q8_0"}));
  EXPECT_EQ(rows[0]["revisions"], "main");
  wick::testing::CommandResult table = wick::testing::RunWick({"list"});
  EXPECT_NE(table.out.find("tiny-Q8_0.gguf"), std::string::npos) << table.out;

  EXPECT_EQ(wick::testing::RunWick({"verify"}).exit_code, 0);
  // One flipped byte in a blob: found, named, and the exit status says so.
  const fs::path blob = fs::canonical(path);
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  wick::testing::CommandResult bad = wick::testing::RunWick({"verify", "org/tiny-GGUF"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("MISMATCH"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find(blob.filename().string()), std::string::npos) << bad.out;

  wick::testing::CommandResult rm = wick::testing::RunWick({"rm", "org/tiny-GGUF:q4_k_m"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_EQ(Json::parse(wick::testing::RunWick({"list", "--json"}).out).size(), 1u);
  ASSERT_EQ(wick::testing::RunWick({"rm", "org/tiny-GGUF"}).exit_code, 0);
  EXPECT_EQ(Json::parse(wick::testing::RunWick({"list", "--json"}).out).size(), 0u);
  EXPECT_EQ(wick::testing::RunWick({"rm", "org/tiny-GGUF"}).exit_code, 1);
}

TEST_F(HubCliTest, ErrorsSayWhatToDo) {
  wick::testing::CommandResult unknown = wick::testing::RunWick({"pull", "org/nothing-here"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("org/nothing-here"), std::string::npos) << unknown.err;
  wick::testing::CommandResult quant = wick::testing::RunWick({"pull", "org/tiny-GGUF:Q2_K"});
  EXPECT_EQ(quant.exit_code, 1);
  EXPECT_NE(quant.err.find("Q4_K_M"), std::string::npos) << quant.err;  // lists what there is
  FakeMode gated;
  gated.token = "hf_secret";
  hub_.SetRepoMode("org/tiny-GGUF", gated);
  wick::testing::CommandResult no_token = wick::testing::RunWick({"pull", "org/tiny-GGUF"});
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_NE(no_token.err.find("HF_TOKEN"), std::string::npos) << no_token.err;
  ScopedEnv token("HF_TOKEN", "hf_secret");
  EXPECT_EQ(wick::testing::RunWick({"pull", "org/tiny-GGUF:Q8_0", "-q"}).exit_code, 0);
  ScopedEnv offline("HF_HUB_OFFLINE", "1");
  wick::testing::CommandResult not_cached = wick::testing::RunWick(RunArgs("org/tiny-GGUF:Q4_K_M"));
  EXPECT_EQ(not_cached.exit_code, 1);
  EXPECT_NE(not_cached.err.find("HF_HUB_OFFLINE"), std::string::npos) << not_cached.err;
  EXPECT_EQ(wick::testing::RunWick(RunArgs("org/tiny-GGUF:Q8_0")).exit_code, 0);
}

// A `wick serve --share-cache` hands its cache's blobs to another machine's `wick pull --peer`,
// with Range and behind its API key; the hub is asked only for the metadata.
TEST_F(HubCliTest, APeerSharesItsCache) {
  ASSERT_EQ(wick::testing::RunWick({"pull", "org/tiny-GGUF:Q8_0", "-q"}).exit_code, 0);
  const std::string sha = hub_.Sha256Of("org/tiny-GGUF", "tiny-Q8_0.gguf");
  ASSERT_EQ(hub_.requests("/cdn/" + sha), 1);
  wick::testing::ServeProcess peer(
      {"-m", model_, "--share-cache", "--api-key", "peer-key", "--threads", "1"});
  ASSERT_TRUE(peer.ready()) << peer.Log();

  httplib::Client cli("127.0.0.1", peer.port());
  EXPECT_EQ(cli.Get("/v1/blobs/" + sha)->status, 401);
  const httplib::Headers auth = {{"Authorization", "Bearer peer-key"}};
  httplib::Headers ranged = auth;
  ranged.emplace("Range", "bytes=100-199");
  httplib::Result part = cli.Get("/v1/blobs/" + sha, ranged);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  std::ifstream in(model_, std::ios::binary);
  std::string whole(std::istreambuf_iterator<char>(in), {});
  EXPECT_EQ(part->body, whole.substr(100, 100));
  httplib::Result missing = cli.Get("/v1/blobs/" + std::string(64, 'b'), auth);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("blob_not_found"), std::string::npos);

  // Another machine: its own cache, the peer first.
  ScopedEnv other_cache("HF_HUB_CACHE", (dir_.path() / "other-hub").string());
  ScopedEnv key("WICK_PEER_API_KEY", "peer-key");
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer.port());
  wick::testing::CommandResult pulled =
      wick::testing::RunWick({"pull", "org/tiny-GGUF:Q8_0", "--peer", peer_url});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_NE(pulled.err.find("from " + peer_url), std::string::npos) << pulled.err;
  EXPECT_EQ(hub_.requests("/cdn/" + sha), 1);  // the hub gave the hash, the peer the bytes
  const std::string path = pulled.out.substr(0, pulled.out.find('\n'));
  std::ifstream got(path, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(got), {}), whole);
  EXPECT_EQ(peer.Stop(), 0) << peer.Log();
}

// `wick cmd` without -m or a config: its default model is pulled through the hub on first
// use, then found in the cache without the network.
TEST_F(HubCliTest, CmdPullsItsDefaultModelOnFirstUse) {
  WICK_REQUIRE_SHARED(shared);
  hub_.AddRepo("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", kCommit,
               {{.path = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                 .bytes = "",
                 .disk_path = (shared / "models/synthetic/tiny2-q4_k_m.gguf").string(),
                 .lfs = true}});
  ScopedEnv config_home("XDG_CONFIG_HOME", (dir_.path() / "config").string());
  ScopedEnv state_dir("WICK_CACHE_DIR", (dir_.path() / "wick-cache").string());
  // The model has random weights, and the prompt holds the working directory and the OS
  // release: whether its noise closes the JSON answer within -n depends on the machine and the
  // checkout's path. What this test checks is the pull, not the answer: the first run pulls
  // the model (and answers, or says the answer did not finish), and the offline run gives the
  // same result from the cache.
  const std::vector<std::string> args = {
      "cmd",    "--dry-run", "--json", "--temp", "1",
      "--seed", "3",         "-n",     "900",    "list the files in this folder"};
  wick::testing::CommandResult first = wick::testing::RunWick(args);
  ASSERT_NE(first.err.find("pulled qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"), std::string::npos)
      << first.err;
  if (first.exit_code == 0) {
    const Json answer = Json::parse(first.out, nullptr, false);
    ASSERT_TRUE(answer.is_object()) << first.out;
    EXPECT_NE(answer["model"].get<std::string>().find(dir_.path().string()), std::string::npos)
        << answer["model"];
    EXPECT_TRUE(answer["cmd"].is_string());
  } else {
    EXPECT_NE(first.err.find("did not finish"), std::string::npos) << first.err;
  }
  ScopedEnv offline("HF_HUB_OFFLINE", "1");
  wick::testing::CommandResult again = wick::testing::RunWick(args);
  EXPECT_EQ(again.err.find("pulled"), std::string::npos) << again.err;
  ASSERT_EQ(again.exit_code, first.exit_code) << again.err;
  if (first.exit_code == 0) {
    EXPECT_EQ(Json::parse(again.out, nullptr, false)["cmd"],
              Json::parse(first.out, nullptr, false)["cmd"]);
  } else {
    EXPECT_NE(again.err.find("did not finish"), std::string::npos) << again.err;
  }
}

}  // namespace
}  // namespace wick::hub
