// The chat page of `wick serve` over real HTTP: the embedded page and its files with their
// content types and cross-origin isolation headers, /wasm/* from --wasm-dir with traversal
// refused, the API still behind --api-key while the page is not, and --no-ui.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <string>
#include <vector>

#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

std::string ModelPath() {
  auto shared = SharedDir();
  return shared ? (*shared / "models/stories260K.gguf").string() : "";
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ExpectIsolationHeaders(const httplib::Response& res, const std::string& what) {
  EXPECT_EQ(res.get_header_value("Cross-Origin-Opener-Policy"), "same-origin") << what;
  EXPECT_EQ(res.get_header_value("Cross-Origin-Embedder-Policy"), "require-corp") << what;
  EXPECT_EQ(res.get_header_value("Cross-Origin-Resource-Policy"), "same-origin") << what;
}

class UiHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ModelPath().empty()) return;
    wasm_dir_ = new TempDir();
    // Bytes that are not text: the file must come back exactly.
    std::vector<uint8_t> wasm = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0x0a};
    WriteFileBytes(wasm_dir_->File("wick-st.wasm"), wasm);
    WriteFileBytes(wasm_dir_->File("wick-st.js"), {'/', '/', '\n'});
    server_ = new ServeProcess(
        {"-m", ModelPath(), "--api-key", "sekret", "--wasm-dir", wasm_dir_->path().string()});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete wasm_dir_;
    wasm_dir_ = nullptr;
  }
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->ready()) << server_->Log();
  }
  httplib::Client Client() const {
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_read_timeout(30, 0);
    return cli;
  }

  static inline ServeProcess* server_ = nullptr;
  static inline TempDir* wasm_dir_ = nullptr;
};

TEST_F(UiHttpTest, RootServesThePageWithIsolationHeaders) {
  httplib::Client cli = Client();
  httplib::Result res = cli.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  ExpectIsolationHeaders(*res, "/");
  // The embedded bytes are web/index.html's, and the page needs no API key.
  EXPECT_EQ(res->body, ReadText(std::filesystem::path(WICK_SOURCE_DIR) / "web/index.html"));
  EXPECT_NE(res->body.find("id=\"messages\""), std::string::npos);
  // The log says where the page is and which engine folder it found.
  const std::string log = server_->Log();
  EXPECT_NE(log.find("chat page at http://"), std::string::npos) << log;
  EXPECT_NE(log.find(wasm_dir_->path().string()), std::string::npos) << log;
}

TEST_F(UiHttpTest, PageFilesHaveTheirContentTypes) {
  httplib::Client cli = Client();
  const std::vector<std::pair<std::string, std::string>> files = {
      {"/app.js", "text/javascript"},
      {"/wick.js", "text/javascript"},
      {"/wick-worker.js", "text/javascript"},
      {"/style.css", "text/css"},
  };
  for (const auto& [path, type] : files) {
    httplib::Result res = cli.Get(path.c_str());
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), type) << path;
    ExpectIsolationHeaders(*res, path);
    EXPECT_EQ(res->body, ReadText(std::filesystem::path(WICK_SOURCE_DIR) / "web" / path.substr(1)))
        << path;
  }
  // Only the listed files: a dot in a route is not a wildcard.
  httplib::Result res = cli.Get("/appxjs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(UiHttpTest, WasmFilesComeFromTheWasmDir) {
  httplib::Client cli = Client();
  httplib::Result res = cli.Get("/wasm/wick-st.wasm");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/wasm");
  ExpectIsolationHeaders(*res, "/wasm/wick-st.wasm");
  const std::vector<uint8_t> want = ReadFileBytes(wasm_dir_->File("wick-st.wasm"));
  EXPECT_EQ(res->body, std::string(want.begin(), want.end()));

  res = cli.Get("/wasm/wick-st.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/javascript");

  // The page asks with HEAD whether the engine is built.
  res = cli.Head("/wasm/wick-st.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = cli.Head("/wasm/wick-mt.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(UiHttpTest, WasmPathTraversalIsRefused) {
  // A file beside the wasm folder that a traversal would reach.
  const std::filesystem::path outside = wasm_dir_->path().parent_path() / "wick-ui-test-secret";
  { std::ofstream(outside) << "secret"; }
  const std::string dir_name = wasm_dir_->path().filename().string();
  httplib::Client cli = Client();
  for (const std::string& path :
       {std::string("/wasm/..%2fwick-ui-test-secret"), std::string("/wasm/%2e%2e%2fetc%2fpasswd"),
        std::string("/wasm/..%2f") + dir_name + "%2fwick-st.wasm", std::string("/wasm/.."),
        std::string("/wasm/"), std::string("/wasm/a%2fb"), std::string("/wasm/..%5cwick")}) {
    httplib::Result res = cli.Get(path.c_str());
    ASSERT_TRUE(res) << path;
    EXPECT_GE(res->status, 400) << path;
    EXPECT_LT(res->status, 500) << path;
    EXPECT_EQ(res->body.find("secret\""), std::string::npos) << path;
    EXPECT_NE(res->body, "secret") << path;
  }
  std::filesystem::remove(outside);
}

TEST_F(UiHttpTest, TheApiStillNeedsItsKey) {
  httplib::Client cli = Client();
  httplib::Result res = cli.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = cli.Get("/v1/models", {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(UiHttpNoUiTest, NoUiLeavesRootUnserved) {
  WICK_REQUIRE_SHARED(shared);
  TempDir wasm;
  WriteFileBytes(wasm.File("wick-st.wasm"), {0x00, 0x61, 0x73, 0x6d});
  ServeProcess server({"-m", ModelPath(), "--no-ui", "--wasm-dir", wasm.path().string()});
  ASSERT_TRUE(server.ready()) << server.Log();
  httplib::Client cli("127.0.0.1", server.port());
  for (const char* path : {"/", "/app.js", "/wick.js", "/wasm/wick-st.wasm"}) {
    httplib::Result res = cli.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_TRUE(res->get_header_value("Cross-Origin-Opener-Policy").empty()) << path;
  }
  httplib::Result res = cli.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(server.Log().find("chat page at"), std::string::npos);
}

TEST(UiHttpNoUiTest, MissingWasmDirIsAnError) {
  WICK_REQUIRE_SHARED(shared);
  TempDir dir;
  CommandResult r = RunWick(
      {"serve", "-m", ModelPath(), "--port", "0", "--wasm-dir", dir.File("absent").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--wasm-dir"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wick::testing
