// Continuous batching: many sequences generate at once, one forward pass per step over all of
// them. Each sequence holds a slot (its own KV cache); a step runs one token of every sequence
// that is generating plus chunks of the prompts being processed, at most `n_batch` tokens, so
// a long prompt never stalls the others for more than a step. New sequences join between steps.
// A finished slot keeps its prompt's keys and values: a new prompt starting the same way takes
// the slot with the longest common prefix and evaluates only the rest (prefix cache).
//
// Every sequence's tokens are computed the same way whatever shares its batch
// (LlamaModel::ForwardBatch), so with greedy sampling a request's output is the same under load
// as alone.
//
// Threads: Submit, SequenceHandle and Stats are safe from any thread; the model runs on the
// engine's own thread, which alone touches slots and caches.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "sampling/sampler_chain.h"
#include "text/grammar/grammar_matcher.h"
#include "text/tokenizer.h"

namespace wick::engine {

struct SequenceParams {
  std::vector<int32_t> prompt;  // tokens, specials included
  int64_t max_tokens = -1;      // -1: until end of generation or a full context
  std::vector<std::string> stop;
  sampling::SamplingParams sampling;
  // < 0: no log-probabilities; otherwise each token's, with this many alternatives.
  int top_logprobs = -1;
  bool ignore_eos = false;  // end-of-generation tokens are sampled around (benchmarks)
  // Constrained decoding: only tokens that keep the output a prefix of a sentence of this
  // grammar are sampled, and the sequence stops when the sentence is complete.
  std::shared_ptr<text::CompiledGrammar> grammar = {};
};

enum class FinishReason { kStop, kLength, kCancelled, kError };

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

// What a sequence produced since the last event: text that is final (complete UTF-8, never
// part of a stop string), the log-probabilities of the tokens sampled, and on the last event
// how it ended.
struct SequenceEvent {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool done = false;
  FinishReason finish = FinishReason::kStop;
  std::string error;  // kError
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, reused from an earlier sequence
  int64_t completion_tokens = 0;
};

// A submitted sequence, shared by the engine (producer) and its consumer.
class SequenceHandle {
 public:
  // The events produced so far (merged into one), waiting up to `timeout` for one. Empty text,
  // no log-probabilities and done false: nothing new yet.
  SequenceEvent Next(std::chrono::milliseconds timeout);
  // Ends the sequence at the next step and frees its slot; its last event says kCancelled.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class BatchEngine;
  void Push(SequenceEvent event);

  std::mutex mu_;
  std::condition_variable cv_;
  SequenceEvent pending_;
  bool has_event_ = false;
  std::atomic<bool> cancelled_{false};
};

struct BatchEngineOptions {
  int n_parallel = 4;    // slots, each its own KV cache
  int64_t n_ctx = 4096;  // positions per slot
  DType kv_type = DType::kF16;
  int64_t n_batch = 512;  // tokens per step, at most
  int queue_size = 64;    // sequences waiting for a slot, at most
  bool swa_full = false;  // model::KvCacheOptions::swa_full
};

struct EngineStats {
  int n_parallel = 0;
  int active = 0;  // slots running a sequence
  int queued = 0;
  int64_t kv_cells_used = 0;  // positions filled, active slots and kept prefixes
  int64_t kv_cells_total = 0;
  uint64_t kv_bytes = 0;
  uint64_t steps = 0;
  uint64_t cancelled = 0;  // sequences ended by Cancel (a client that went away)
};

class BatchEngine {
 public:
  // The model, tokenizer and backend must outlive the engine. Allocates every slot's cache now.
  static Result<std::unique_ptr<BatchEngine>> Create(model::LlamaModel& model,
                                                     const Tokenizer& tokenizer,
                                                     model::Backend& backend,
                                                     const BatchEngineOptions& options);
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  // Queues sequences, all or none. Errors: kInvalidArgument (empty prompt, bad sampling
  // parameters), kOutOfRange (a prompt that leaves no room in a slot's context), kUnavailable
  // (the queue is full).
  Result<std::vector<std::shared_ptr<SequenceHandle>>> Submit(std::vector<SequenceParams> batch);

  // Ends every running and queued sequence (kCancelled), e.g. when the server shuts down and
  // must not wait for endless generations. Later submissions run as usual.
  void CancelAll();

  EngineStats Stats() const;
  const BatchEngineOptions& options() const { return options_; }

 private:
  struct Slot;
  struct Pending {
    SequenceParams params;
    sampling::SamplerChain sampler;
    std::shared_ptr<SequenceHandle> handle;
  };

  BatchEngine(model::LlamaModel& model, const Tokenizer& tokenizer, model::Backend& backend,
              const BatchEngineOptions& options);
  void Loop();
  void Admit(std::deque<Pending>& pending);
  Status Step();
  void Sample(Slot& slot, const float* logits);
  void Finish(Slot& slot, FinishReason reason, std::string error = {});

  model::LlamaModel& model_;
  const Tokenizer& tokenizer_;
  model::Backend& backend_;
  BatchEngineOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  model::DeviceBuffer logits_;  // n_parallel rows, from LlamaModel::AllocateLogits
  std::vector<model::BatchSequence> batch_;
  std::vector<Slot*> batch_slots_;
  uint64_t admitted_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool cancel_all_ = false;  // the loop cancels every active slot at its next step
  // Mirrors of the loop's state for Stats().
  int active_ = 0;
  int64_t kv_cells_used_ = 0;
  uint64_t steps_ = 0;
  uint64_t cancelled_ = 0;
  std::thread thread_;
};

}  // namespace wick::engine
