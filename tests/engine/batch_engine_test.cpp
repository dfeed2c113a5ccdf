// Continuous batching: outputs under load equal the same requests alone (greedy), stop strings,
// limits, the prefix cache, cancellation and the admission errors.
#include "engine/batch_engine.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/test_model.h"
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

}  // namespace
}  // namespace wick::engine
