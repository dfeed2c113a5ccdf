// `wick serve --models DIR --max-memory SIZE` in a real process over the shared models, with a
// budget that holds one model at a time: requests alternating between models swap them and
// answer as a single-model server does, concurrent requests to two models all succeed, a model
// larger than the budget is a 400, /v1/models shows the states, and a TOML list works.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::vector<std::string> kModels = {"llama-2-tiny-random", "stories260K", "stories260K-q4_k"};

struct Reply {
  int status = 0;
  Json body;
  std::string raw;
};

Reply Post(httplib::Client& cli, const std::string& path, const Json& body) {
  Reply r;
  httplib::Result res = cli.Post(path.c_str(), body.dump(), "application/json");
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

Reply Get(httplib::Client& cli, const std::string& path) {
  Reply r;
  httplib::Result res = cli.Get(path.c_str());
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

std::unique_ptr<httplib::Client> Client(const ServeProcess& server) {
  auto cli = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  cli->set_read_timeout(120, 0);
  return cli;
}

Json Completion(const std::string& model, int max_tokens = 16) {
  Json body = {{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"temperature", 0}};
  if (!model.empty()) body["model"] = model;
  return body;
}

Json ChatBody(const std::string& model) {
  return {{"model", model},
          {"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}},
          {"max_tokens", 12},
          {"temperature", 0}};
}

// The text of a completion or chat answer ("" when it failed).
std::string Text(const Reply& r) {
  if (r.status != 200) return "";
  const Json& c = r.body["choices"][0];
  return c.contains("message") ? c["message"]["content"].get<std::string>()
                               : c["text"].get<std::string>();
}

// A streamed completion's text, joined from its events.
std::string StreamText(httplib::Client& cli, Json body, int& status) {
  body["stream"] = true;
  std::string buffer;
  std::string text;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: {", 0) != 0) continue;
      const Json j = Json::parse(event.substr(6), nullptr, false);
      for (const Json& c : j.value("choices", Json::array())) text += c.value("text", "");
    }
    return true;
  };
  httplib::Result res = cli.send(req);
  status = res ? res->status : 0;
  return text;
}

double Metric(httplib::Client& cli, const std::string& name) {
  const Reply r = Get(cli, "/metrics");
  const size_t at = r.raw.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atof(r.raw.c_str() + at + name.size() + 2);
}

std::map<std::string, std::string> States(httplib::Client& cli) {
  std::map<std::string, std::string> out;
  const Reply r = Get(cli, "/v1/models");
  for (const Json& m : r.body["data"]) out[m["id"]] = m["wick"]["state"];
  return out;
}

class MultiModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::optional<fs::path> shared = SharedDir();
    if (!shared) return;
    dir_ = new TempDir();
    for (const std::string& id : kModels) {
      fs::create_symlink(*shared / "models" / (id + ".gguf"), dir_->File(id + ".gguf"));
    }
    // Neither is a model of its own: a vision projector, and a later part of a split model.
    fs::create_symlink(*shared / "models/stories260K.gguf", dir_->File("mmproj-stories.gguf"));
    fs::create_symlink(*shared / "models/stories260K.gguf",
                       dir_->File("other-00002-of-00002.gguf"));
    // What each model answers alone, from a single-model server.
    for (const std::string& id : kModels) {
      ServeProcess alone(
          {"-m", dir_->File(id + ".gguf").string(), "--ctx-size", "256", "--parallel", "2"});
      if (!alone.ready()) return;
      auto cli = Client(alone);
      (*completion_)[id] = Text(Post(*cli, "/v1/completions", Completion(id + ".gguf")));
      (*chat_)[id] = Text(Post(*cli, "/v1/chat/completions", ChatBody(id + ".gguf")));
    }
    // The estimates, from a server with the default budget, size the budget: one model fits,
    // never two.
    {
      ServeProcess probe({"--models", dir_->path().string(), "--ctx-size", "256"});
      if (!probe.ready()) return;
      *listing_ = Get(*Client(probe), "/v1/models").body;
    }
    uint64_t largest = 0;
    for (const Json& m : (*listing_)["data"]) {
      (*estimate_)[m["id"]] = m["wick"]["estimated_bytes"].get<uint64_t>();
      largest = std::max(largest, m["wick"]["estimated_bytes"].get<uint64_t>());
    }
    budget_ = largest + 1024;
    server_ = new ServeProcess({"--models", dir_->path().string(), "--max-memory",
                                std::to_string(budget_), "--ctx-size", "256", "--parallel", "4"});
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!SharedDir()) GTEST_SKIP() << "shared test data not found (set WICK_SHARED)";
    ASSERT_NE(server_, nullptr) << "a reference server did not start";
    ASSERT_TRUE(server_->ready()) << server_->Log();
    cli_ = Client(*server_);
  }

  static TempDir* dir_;
  static ServeProcess* server_;
  static uint64_t budget_;
  static std::map<std::string, std::string>* completion_;
  static std::map<std::string, std::string>* chat_;
  static std::map<std::string, uint64_t>* estimate_;
  static Json* listing_;
  std::unique_ptr<httplib::Client> cli_;
};

TempDir* MultiModelTest::dir_ = nullptr;
ServeProcess* MultiModelTest::server_ = nullptr;
uint64_t MultiModelTest::budget_ = 0;
std::map<std::string, std::string>* MultiModelTest::completion_ =
    new std::map<std::string, std::string>();
std::map<std::string, std::string>* MultiModelTest::chat_ =
    new std::map<std::string, std::string>();
std::map<std::string, uint64_t>* MultiModelTest::estimate_ = new std::map<std::string, uint64_t>();
Json* MultiModelTest::listing_ = new Json();

TEST_F(MultiModelTest, ListsEveryModelOfTheDirectoryUnloadedAtFirst) {
  const Json& data = (*listing_)["data"];
  ASSERT_EQ(data.size(), kModels.size()) << listing_->dump();
  for (size_t i = 0; i < kModels.size(); ++i) {
    EXPECT_EQ(data[i]["id"], kModels[i]);
    EXPECT_EQ(data[i]["object"], "model");
    EXPECT_EQ(data[i]["owned_by"], "wick");
    EXPECT_EQ(data[i]["wick"]["state"], "unloaded");
    EXPECT_TRUE(data[i]["wick"]["last_used"].is_null());
    EXPECT_GT(data[i]["wick"]["size_bytes"].get<uint64_t>(),
              fs::file_size(dir_->File(kModels[i] + ".gguf")));
  }
  // Two models never fit the budget, so every switch is a swap.
  std::vector<uint64_t> sizes;
  for (const auto& [id, bytes] : *estimate_) sizes.push_back(bytes);
  std::sort(sizes.begin(), sizes.end());
  ASSERT_GT(sizes[0] + sizes[1], budget_);
  EXPECT_EQ(Get(*cli_, "/health").status, 200);
  const Reply one = Get(*cli_, "/v1/models/stories260K");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body["id"], "stories260K");
  EXPECT_TRUE(one.body["wick"].contains("state"));
}

TEST_F(MultiModelTest, AlternatingRequestsSwapModelsAndAnswerAsAlone) {
  const double loads_before = Metric(*cli_, "wick_model_loads_total");
  const double swaps_before = Metric(*cli_, "wick_model_swap_seconds_count");
  const double swap_sum_before = Metric(*cli_, "wick_model_swap_seconds_sum");
  std::string previous;
  std::vector<double> swap_ms, warm_ms;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& id : kModels) {
      SCOPED_TRACE(id);
      const auto start = std::chrono::steady_clock::now();
      const Reply r = Post(*cli_, "/v1/completions", Completion(id));
      const double first =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      ASSERT_EQ(r.status, 200) << r.raw;
      EXPECT_EQ(r.body["model"], id);
      EXPECT_EQ(Text(r), (*completion_)[id]);
      // The same request again, the model loaded: the difference is the swap.
      const auto again = std::chrono::steady_clock::now();
      EXPECT_EQ(Text(Post(*cli_, "/v1/completions", Completion(id))), (*completion_)[id]);
      warm_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - again)
              .count());
      EXPECT_EQ(Text(Post(*cli_, "/v1/chat/completions", ChatBody(id))), (*chat_)[id]);
      if (!previous.empty()) swap_ms.push_back(first);
      const std::map<std::string, std::string> states = States(*cli_);
      for (const std::string& other : kModels) {
        EXPECT_EQ(states.at(other), other == id ? "loaded" : "unloaded") << other;
      }
      previous = id;
    }
  }
  // The first load of this test may find no model loaded (it would then not be a swap).
  const double loads = Metric(*cli_, "wick_model_loads_total") - loads_before;
  const double swaps = Metric(*cli_, "wick_model_swap_seconds_count") - swaps_before;
  EXPECT_GE(loads, 8);
  EXPECT_GE(swaps, 8);
  const double server_swap_ms =
      (Metric(*cli_, "wick_model_swap_seconds_sum") - swap_sum_before) * 1000 / swaps;
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  std::cout << "[ swap     ] server: " << server_swap_ms << " ms per swap (unload + load); "
            << "client: first request after a swap " << mean(swap_ms)
            << " ms, a request to the loaded model " << mean(warm_ms) << " ms\n";
  RecordProperty("swap_ms", std::to_string(server_swap_ms));
  const std::string log = server_->Log();
  EXPECT_NE(log.find("wick: loaded stories260K ("), std::string::npos) << log;
  EXPECT_NE(log.find(" ms, unloaded "), std::string::npos) << log;
  const Reply listed = Get(*cli_, "/v1/models");
  for (const Json& m : listed.body["data"]) EXPECT_FALSE(m["wick"]["last_used"].is_null());
}

TEST_F(MultiModelTest, ConcurrentRequestsToTwoModelsAllSucceed) {
  const std::vector<std::string> two = {"stories260K", "llama-2-tiny-random"};
  const double loads_before = Metric(*cli_, "wick_model_loads_total");
  const double waits_before = Metric(*cli_, "wick_model_memory_waits_total");
  std::atomic<int> ok{0};
  std::vector<std::string> failures(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto cli = Client(*server_);
      for (int i = 0; i < 3; ++i) {
        const std::string& id = two[static_cast<size_t>(t + i) % 2];
        int status = 0;
        std::string text;
        if (t % 2 == 0) {
          text = StreamText(*cli, Completion(id), status);
        } else {
          const Reply r = Post(*cli, "/v1/completions", Completion(id));
          status = r.status;
          text = status == 200 ? Text(r) : r.raw;
        }
        if (status == 200 && text == (*completion_)[id]) {
          ++ok;
        } else {
          failures[static_cast<size_t>(t)] += id + " " + std::to_string(status) + ": " + text;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok, 48);
  for (const std::string& f : failures) EXPECT_EQ(f, "");
  EXPECT_EQ(Metric(*cli_, "wick_model_memory_timeouts_total"), 0);
  std::cout << "[ load     ] " << Metric(*cli_, "wick_model_loads_total") - loads_before
            << " loads, " << Metric(*cli_, "wick_model_memory_waits_total") - waits_before
            << " requests waited for a busy model's memory\n";
  EXPECT_LE(Metric(*cli_, "wick_models_loaded"), 1);
  EXPECT_LE(Metric(*cli_, "wick_model_memory_used_bytes"), static_cast<double>(budget_));
  // A lease ends when the server has finished with the response, which may be just after the
  // client has read it all: poll briefly rather than race it.
  auto in_use = [&] {
    const Reply models = Get(*cli_, "/v1/models");  // alive while its body is read
    int n = 0;
    for (const Json& m : models.body["data"]) n += m["wick"]["requests"].get<int>();
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (in_use() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(in_use(), 0);
}

TEST_F(MultiModelTest, UnknownOrMissingModelIsAnError) {
  const Reply unknown = Post(*cli_, "/v1/completions", Completion("nope"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "model_not_found");
  EXPECT_NE(unknown.body["error"]["message"].get<std::string>().find("'stories260K'"),
            std::string::npos);
  const Reply missing = Post(*cli_, "/v1/completions", Completion(""));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body["error"]["param"], "model");
  // A malformed request is refused before any model is loaded for it.
  const double loads = Metric(*cli_, "wick_model_loads_total");
  Json bad = Completion("stories260K-q4_k");
  bad["temperature"] = "hot";
  EXPECT_EQ(Post(*cli_, "/v1/completions", bad).status, 400);
  EXPECT_EQ(Metric(*cli_, "wick_model_loads_total"), loads);
}

TEST_F(MultiModelTest, ModelLargerThanTheBudgetIs400NamingBothSizes) {
  // Room for the smallest model only.
  const uint64_t smallest = (*estimate_)["stories260K-q4_k"];
  ASSERT_LT(smallest, (*estimate_)["stories260K"]);
  ServeProcess small({"--models", dir_->path().string(), "--max-memory",
                      std::to_string(smallest + 1), "--ctx-size", "256"});
  ASSERT_TRUE(small.ready()) << small.Log();
  auto cli = Client(small);
  const Reply big = Post(*cli, "/v1/completions", Completion("stories260K"));
  EXPECT_EQ(big.status, 400) << big.raw;
  EXPECT_EQ(big.body["error"]["code"], "model_too_large");
  const std::string message = big.body["error"]["message"];
  EXPECT_NE(message.find("needs about "), std::string::npos) << message;
  EXPECT_NE(message.find("memory budget is "), std::string::npos) << message;
  EXPECT_NE(message.find(" MiB but"), std::string::npos) << message;
  EXPECT_NE(message.find(" MiB (--max-memory)"), std::string::npos) << message;
  const Reply fits = Post(*cli, "/v1/completions", Completion("stories260K-q4_k"));
  EXPECT_EQ(fits.status, 200) << fits.raw;
  EXPECT_EQ(Text(fits), (*completion_)["stories260K-q4_k"]);
  EXPECT_NE(small.Log().find("needs more than the memory budget"), std::string::npos);
}

TEST_F(MultiModelTest, TomlListOfModels) {
  const fs::path config = dir_->File("models.toml");
  std::ofstream(config) << "[[model]]\nid = \"story\"\nmodel = \""
                        << dir_->File("stories260K.gguf").string()
                        << "\"\nctx_size = 128\nparallel = 1\n\n"
                           "[[model]]\nid = \"tiny\"\nmodel = \"llama-2-tiny-random.gguf\"\n";
  ServeProcess server({"--models", config.string(), "--max-memory", "1GB"});
  ASSERT_TRUE(server.ready()) << server.Log();
  auto cli = Client(server);
  const Reply listed = Get(*cli, "/v1/models");
  ASSERT_EQ(listed.body["data"].size(), 2u) << listed.raw;
  EXPECT_EQ(listed.body["data"][0]["id"], "story");
  EXPECT_EQ(listed.body["data"][1]["id"], "tiny");
  EXPECT_EQ(Text(Post(*cli, "/v1/completions", Completion("story"))),
            (*completion_)["stories260K"]);
  EXPECT_EQ(Text(Post(*cli, "/v1/completions", Completion("tiny"))),
            (*completion_)["llama-2-tiny-random"]);
  EXPECT_EQ(States(*cli),
            (std::map<std::string, std::string>{{"story", "loaded"}, {"tiny", "loaded"}}));

  EXPECT_EQ(server.Stop(), 0) << server.Log();  // SIGTERM with models loaded: a clean exit

  const fs::path bad = dir_->File("bad.toml");
  std::ofstream(bad) << "[[model]]\nid = \"x\"\nmodel = \""
                     << dir_->File("stories260K.gguf").string() << "\"\nctx = 5\n";
  const CommandResult r = RunWick({"serve", "--models", bad.string(), "--port", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.toml:4:1: model[0].ctx: unknown key"), std::string::npos) << r.err;
  const CommandResult both = RunWick(
      {"serve", "--models", config.string(), "-m", dir_->File("stories260K.gguf").string()});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("--models"), std::string::npos) << both.err;
}

}  // namespace
}  // namespace wick::testing
