// Continuous batching: outputs under load equal the same requests alone (greedy), stop strings,
// limits, the prefix cache, cancellation and the admission errors.
#include "engine/batch_engine.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/test_model.h"
#include "model/synthetic.h"
#include "test_support.h"

namespace wick::engine {
namespace {

using namespace std::chrono_literals;

struct Output {
  std::string text;
  SequenceEvent last;
  int64_t n_logprobs = 0;
};

Output Drain(SequenceHandle& h) {
  Output out;
  for (;;) {
    SequenceEvent e = h.Next(5s);
    out.text += e.text;
    out.n_logprobs += static_cast<int64_t>(e.logprobs.size());
    if (e.done) {
      out.last = std::move(e);
      return out;
    }
  }
}

class BatchEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    m_ = LoadTestModel(shared / "models/stories260K.gguf");
    ASSERT_NE(m_, nullptr);
  }

  std::unique_ptr<BatchEngine> Engine(int parallel, int64_t n_ctx = 256, int queue = 64,
                                      int64_t n_batch = 64) {
    Result<std::unique_ptr<BatchEngine>> e =
        BatchEngine::Create(*m_->model, *m_->tokenizer, backend_,
                            {.n_parallel = parallel,
                             .n_ctx = n_ctx,
                             .kv_type = DType::kF16,
                             .n_batch = n_batch,
                             .queue_size = queue});
    EXPECT_TRUE(e.ok()) << e.error().message();
    return e.ok() ? std::move(*e) : nullptr;
  }

  SequenceParams Params(const std::string& prompt, int64_t max_tokens) {
    SequenceParams p;
    p.prompt = m_->tokenizer->Encode(prompt);
    p.max_tokens = max_tokens;
    p.sampling.temperature = 0;
    return p;
  }

  std::unique_ptr<TestModel> m_;
  model::CpuBackend backend_{2};
};

const std::vector<std::string> kPrompts = {
    "Once upon a time",
    "Lily and Tom went to the park",
    "The little dog was sad because",
    "One day, a big bird",
    "Tim had a red ball. He",
    "Once upon a time, there was a girl named Sue. She liked to play with her toys every day "
    "and her mom said",
};

TEST_F(BatchEngineTest, OutputsUnderLoadEqualTheSameRequestsAlone) {
  std::vector<std::string> alone;
  {
    std::unique_ptr<BatchEngine> e = Engine(1);
    for (const std::string& p : kPrompts) {
      auto h = e->Submit({Params(p, 24)});
      ASSERT_TRUE(h.ok()) << h.error().message();
      alone.push_back(Drain(*(*h)[0]).text);
    }
  }
  // Four slots, a small step budget (prompts are cut into chunks), every prompt three times,
  // submitted from several threads at once.
  std::unique_ptr<BatchEngine> e = Engine(4, 256, 64, 24);
  std::vector<std::thread> clients;
  std::vector<std::string> got(kPrompts.size() * 3);
  for (size_t i = 0; i < got.size(); ++i) {
    clients.emplace_back([&, i] {
      auto h = e->Submit({Params(kPrompts[i % kPrompts.size()], 24)});
      ASSERT_TRUE(h.ok()) << h.error().message();
      got[i] = Drain(*(*h)[0]).text;
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], alone[i % kPrompts.size()]) << i;
  EXPECT_EQ(e->Stats().active, 0);
}

TEST_F(BatchEngineTest, LimitsStopStringsAndUsage) {
  std::unique_ptr<BatchEngine> e = Engine(2);
  auto h = e->Submit({Params("Once upon a time", 5)});
  ASSERT_TRUE(h.ok());
  Output limited = Drain(*(*h)[0]);
  EXPECT_EQ(limited.last.finish, FinishReason::kLength);
  EXPECT_EQ(limited.last.completion_tokens, 5);
  EXPECT_EQ(limited.last.prompt_tokens,
            static_cast<int64_t>(m_->tokenizer->Encode("Once upon a time").size()));

  h = e->Submit({Params("Once upon a time", 40)});
  const std::string full = Drain(*(*h)[0]).text;
  ASSERT_GT(full.size(), 10u);
  // Stop at a word in the middle of the greedy text: the output ends right before it.
  const size_t cut = full.find(' ', full.size() / 2);
  ASSERT_NE(cut, std::string::npos);
  SequenceParams stop = Params("Once upon a time", 40);
  stop.stop = {full.substr(cut, 4), "zzzz-never"};
  h = e->Submit({stop});
  Output stopped = Drain(*(*h)[0]);
  EXPECT_EQ(stopped.last.finish, FinishReason::kStop);
  EXPECT_EQ(stopped.text, full.substr(0, cut));

  SequenceParams lp = Params("Once upon a time", 6);
  lp.top_logprobs = 3;
  h = e->Submit({lp});
  EXPECT_EQ(Drain(*(*h)[0]).n_logprobs, 6);
}

TEST_F(BatchEngineTest, PrefixCacheReusesAFinishedPromptWithTheSameOutput) {
  std::unique_ptr<BatchEngine> e = Engine(2);
  const std::string base = kPrompts.back();
  auto h = e->Submit({Params(base + " hello", 12)});
  Output first = Drain(*(*h)[0]);
  EXPECT_EQ(first.last.cached_tokens, 0);
  h = e->Submit({Params(base + " goodbye", 12)});
  Output second = Drain(*(*h)[0]);
  EXPECT_GT(second.last.cached_tokens, 20);

  std::unique_ptr<BatchEngine> fresh = Engine(1);
  h = fresh->Submit({Params(base + " goodbye", 12)});
  EXPECT_EQ(Drain(*(*h)[0]).text, second.text);
}

TEST_F(BatchEngineTest, CancelFreesTheSlotAndOnlyThatOne) {
  std::unique_ptr<BatchEngine> e = Engine(2, 16384);
  SequenceParams endless = Params("Once upon a time", -1);
  endless.ignore_eos = true;
  auto a = e->Submit({endless});
  auto b = e->Submit({Params("Lily and Tom went to the park", 8)});
  ASSERT_TRUE(a.ok() && b.ok());
  (*a)[0]->Next(5s);
  (*a)[0]->Cancel();
  Output cancelled = Drain(*(*a)[0]);
  EXPECT_EQ(cancelled.last.finish, FinishReason::kCancelled);
  Output other = Drain(*(*b)[0]);
  EXPECT_EQ(other.last.finish, FinishReason::kLength);
  EXPECT_EQ(other.last.completion_tokens, 8);
  EXPECT_EQ(e->Stats().active, 0);
}

TEST_F(BatchEngineTest, CancelAllEndsRunningAndQueuedButNotLaterOnes) {
  std::unique_ptr<BatchEngine> e = Engine(1, 16384);
  SequenceParams endless = Params("Once upon a time", -1);
  endless.ignore_eos = true;
  auto running = e->Submit({endless});
  auto queued = e->Submit({endless});
  ASSERT_TRUE(running.ok() && queued.ok());
  (*running)[0]->Next(5s);
  e->CancelAll();
  EXPECT_EQ(Drain(*(*running)[0]).last.finish, FinishReason::kCancelled);
  EXPECT_EQ(Drain(*(*queued)[0]).last.finish, FinishReason::kCancelled);
  auto later = e->Submit({Params("Once upon a time", 3)});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(Drain(*(*later)[0]).last.completion_tokens, 3);
}

TEST_F(BatchEngineTest, AdmissionErrors) {
  std::unique_ptr<BatchEngine> e = Engine(1, 32, /*queue=*/1);
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += " the dog";
  auto too_long = e->Submit({Params(long_prompt, 4)});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kOutOfRange);
  EXPECT_FALSE(e->Submit({SequenceParams{}}).ok());

  // One running (endless: no end token, a long context), one waiting: a third does not fit
  // the queue of 1.
  e = Engine(1, 16384, /*queue=*/1);
  SequenceParams endless = Params("Once upon a time", -1);
  endless.ignore_eos = true;
  auto running = e->Submit({endless});
  ASSERT_TRUE(running.ok());
  (*running)[0]->Next(5s);  // admitted and generating
  auto waiting = e->Submit({Params("Once upon a time", 2)});
  ASSERT_TRUE(waiting.ok());
  auto rejected = e->Submit({Params("Once upon a time", 2)});
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code(), ErrorCode::kUnavailable);
  (*running)[0]->Cancel();
  EXPECT_EQ(Drain(*(*waiting)[0]).last.completion_tokens, 2);
}

// The tokens a sequence generated (from its log-probabilities).
std::vector<int32_t> DrainTokens(SequenceHandle& h, int64_t* cached = nullptr) {
  std::vector<int32_t> tokens;
  for (;;) {
    SequenceEvent e = h.Next(5s);
    for (const TokenLogprob& t : e.logprobs) tokens.push_back(t.token);
    if (e.done) {
      if (cached != nullptr) *cached = e.cached_tokens;
      return tokens;
    }
  }
}

// A sliding-window model (a synthetic Gemma 2 whose layer 0 sees 8 positions): each slot's
// window layers keep 8 + 17 positions (a step is at most 17 tokens here). A finished prompt's
// prefix is reused while the window still holds what the next token sees, and evaluated again
// once a long reply has moved the window past it; the output is a fresh engine's either way.
TEST(BatchEngineWindowTest, PrefixCacheKeepsWhatTheWindowHolds) {
  model::SynthPreset preset = **model::FindSynthPreset("gemma2-2b");
  preset.n_embd = 256;
  preset.n_layer = 2;
  preset.n_head = 4;
  preset.n_head_kv = 2;
  preset.head_dim = 64;
  preset.n_ff = 512;
  preset.n_vocab = 0;
  preset.window = 8;
  model::SynthOptions options;
  options.preset = &preset;
  options.type = DType::kQ8_0;
  testing::TempDir dir;
  Result<GgufWriter> writer = model::BuildSyntheticModel(options);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  ASSERT_TRUE(writer->WriteFile(dir.File("gemma2.gguf").string()).ok());
  std::unique_ptr<TestModel> m = LoadTestModel(dir.File("gemma2.gguf"));
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->model->hparams().n_swa, 8);
  model::CpuBackend backend(2);
  auto engine = [&] {
    Result<std::unique_ptr<BatchEngine>> e = BatchEngine::Create(
        *m->model, *m->tokenizer, backend,
        {.n_parallel = 1, .n_ctx = 256, .kv_type = DType::kF16, .n_batch = 8, .queue_size = 8});
    EXPECT_TRUE(e.ok()) << e.error().message();
    return std::move(*e);
  };
  std::mt19937 rng(3);
  std::vector<int32_t> base(40);
  for (int32_t& t : base) t = 300 + static_cast<int32_t>(rng() % 20000);
  auto params = [&](int32_t last, int64_t max_tokens) {
    SequenceParams p;
    p.prompt = base;
    p.prompt.push_back(last);
    p.max_tokens = max_tokens;
    p.sampling.temperature = 0;
    p.top_logprobs = 0;
    p.ignore_eos = true;
    return p;
  };
  for (int64_t first_reply : {2, 40}) {
    SCOPED_TRACE("first reply of " + std::to_string(first_reply) + " tokens");
    std::unique_ptr<BatchEngine> e = engine();
    auto h = e->Submit({params(1000, first_reply)});
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(DrainTokens(*(*h)[0]).size(), static_cast<size_t>(first_reply));
    h = e->Submit({params(2000, 12)});
    ASSERT_TRUE(h.ok());
    int64_t cached = -1;
    const std::vector<int32_t> second = DrainTokens(*(*h)[0], &cached);
    if (first_reply == 2) {
      EXPECT_EQ(cached, 40);
    } else {
      EXPECT_EQ(cached, 0);
    }
    std::unique_ptr<BatchEngine> fresh = engine();
    h = fresh->Submit({params(2000, 12)});
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(DrainTokens(*(*h)[0]), second);
  }
}

}  // namespace
}  // namespace wick::engine
