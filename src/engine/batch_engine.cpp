#include "engine/batch_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/constrained_sampling.h"
#include "engine/eog_ban.h"
#include "engine/stop_matcher.h"
#include "sampling/top_logits.h"

namespace wick::engine {

struct BatchEngine::Slot {
  explicit Slot(model::KvCache c) : cache(std::move(c)) {}

  model::KvCache cache;
  // The prompt tokens whose keys and values the cache holds, position by position. Only
  // prompt tokens: they are computed the way a new prompt's would be, so reusing them changes
  // nothing in the output.
  std::vector<int32_t> cached;
  uint64_t last_used = 0;

  // The running sequence, when active.
  bool active = false;
  uint64_t order = 0;  // admission number: older prompts are processed first
  SequenceParams params;
  sampling::SamplerChain sampler;
  std::shared_ptr<SequenceHandle> handle;
  size_t n_evaluated = 0;  // prompt tokens in the cache
  int64_t reused = 0;
  bool generating = false;  // the prompt is done; `next_token` is the next to evaluate
  int32_t next_token = 0;
  int64_t generated = 0;
  bool hit_stop_string = false;
  std::unique_ptr<Detokenizer> detok;
  std::unique_ptr<StopMatcher> stops;
  std::unique_ptr<text::GrammarMatcher> grammar;  // when the output is constrained
  ConstrainedSampler constrained;
};

// ---------------------------------------------------------------------------------------------
// SequenceHandle

SequenceEvent SequenceHandle::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!has_event_) cv_.wait_for(lock, timeout, [&] { return has_event_; });
  if (!has_event_) return {};
  has_event_ = false;
  return std::exchange(pending_, {});
}

void SequenceHandle::Push(SequenceEvent event) {
  {
    std::lock_guard lock(mu_);
    pending_.text += event.text;
    pending_.logprobs.insert(pending_.logprobs.end(),
                             std::make_move_iterator(event.logprobs.begin()),
                             std::make_move_iterator(event.logprobs.end()));
    if (event.done) {
      pending_.done = true;
      pending_.finish = event.finish;
      pending_.error = std::move(event.error);
      pending_.prompt_tokens = event.prompt_tokens;
      pending_.cached_tokens = event.cached_tokens;
      pending_.completion_tokens = event.completion_tokens;
    }
    has_event_ = true;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// BatchEngine

BatchEngine::BatchEngine(model::LlamaModel& model, const Tokenizer& tokenizer,
                         model::Backend& backend, const BatchEngineOptions& options)
    : model_(model), tokenizer_(tokenizer), backend_(backend), options_(options) {}

Result<std::unique_ptr<BatchEngine>> BatchEngine::Create(model::LlamaModel& model,
                                                         const Tokenizer& tokenizer,
                                                         model::Backend& backend,
                                                         const BatchEngineOptions& options) {
  if (options.n_parallel < 1) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("parallel sequences must be at least 1, not {}", options.n_parallel));
  }
  if (options.queue_size < 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("queue size must not be negative, not {}", options.queue_size));
  }
  BatchEngineOptions opts = options;
  // Every generating sequence takes a token of each step; prompts need room beside them.
  opts.n_batch = std::max<int64_t>(opts.n_batch, opts.n_parallel + 16);
  std::unique_ptr<BatchEngine> engine(new BatchEngine(model, tokenizer, backend, opts));
  for (int i = 0; i < opts.n_parallel; ++i) {
    // Each layer's cache where the layer runs (device memory for offloaded layers).
    // A step takes at most n_batch tokens of a sequence.
    WICK_ASSIGN_OR_RETURN(model::KvCache cache,
                          model.NewCache(opts.n_ctx, opts.kv_type,
                                         {.max_step = opts.n_batch, .swa_full = opts.swa_full}));
    engine->slots_.push_back(std::make_unique<Slot>(std::move(cache)));
  }
  WICK_ASSIGN_OR_RETURN(engine->logits_, model.AllocateLogits(opts.n_parallel, backend));
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

BatchEngine::~BatchEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::vector<std::shared_ptr<SequenceHandle>>> BatchEngine::Submit(
    std::vector<SequenceParams> batch) {
  std::vector<Pending> ready;
  for (SequenceParams& params : batch) {
    if (params.prompt.empty()) return Error(ErrorCode::kInvalidArgument, "the prompt is empty");
    const auto n = static_cast<int64_t>(params.prompt.size());
    if (n >= options_.n_ctx) {
      return Error(ErrorCode::kOutOfRange,
                   fmt::format("the prompt is {} tokens; this server's context holds {} (prompt "
                               "and completion together)",
                               n, options_.n_ctx));
    }
    for (int32_t t : params.prompt) {
      if (t < 0 || t >= tokenizer_.size()) {
        return Error(
            ErrorCode::kInvalidArgument,
            fmt::format("prompt token {} is outside the vocabulary of {}", t, tokenizer_.size()));
      }
    }
    if (params.ignore_eos) BanEndOfGeneration(tokenizer_, params.sampling);
    WICK_ASSIGN_OR_RETURN(sampling::SamplerChain sampler,
                          sampling::SamplerChain::Create(params.sampling));
    ready.push_back({std::move(params), std::move(sampler), std::make_shared<SequenceHandle>()});
  }
  std::vector<std::shared_ptr<SequenceHandle>> handles;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Error(ErrorCode::kUnavailable, "the server is shutting down");
    const int free_slots = options_.n_parallel - active_;
    const auto waiting = static_cast<int64_t>(queue_.size() + ready.size()) - free_slots;
    if (waiting > options_.queue_size) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("the queue is full ({} requests waiting for {} slots); retry later",
                               queue_.size(), options_.n_parallel));
    }
    for (Pending& p : ready) {
      handles.push_back(p.handle);
      queue_.push_back(std::move(p));
    }
  }
  cv_.notify_all();
  return handles;
}

void BatchEngine::CancelAll() {
  std::deque<Pending> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(queue_);
    cancel_all_ = active_ > 0;
  }
  cv_.notify_all();
  for (Pending& p : dropped) {
    SequenceEvent event;
    event.done = true;
    event.finish = FinishReason::kCancelled;
    event.prompt_tokens = static_cast<int64_t>(p.params.prompt.size());
    p.handle->Push(std::move(event));
  }
}

EngineStats BatchEngine::Stats() const {
  std::lock_guard lock(mu_);
  EngineStats s;
  s.n_parallel = options_.n_parallel;
  s.active = active_;
  s.queued = static_cast<int>(queue_.size());
  s.kv_cells_used = kv_cells_used_;
  s.kv_cells_total = options_.n_ctx * options_.n_parallel;
  for (const auto& slot : slots_) s.kv_bytes += slot->cache.bytes();
  s.steps = steps_;
  s.cancelled = cancelled_;
  return s;
}

void BatchEngine::Loop() {
  for (;;) {
    std::deque<Pending> admitted;
    bool cancel_all = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || active_ > 0 || !queue_.empty(); });
      if (stopping_) break;
      cancel_all = std::exchange(cancel_all_, false);
      for (int free = options_.n_parallel - active_; free > 0 && !queue_.empty(); --free) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
        ++active_;  // counted now, so Submit sees the slot taken
      }
    }
    // Before admitting: what was submitted after CancelAll runs as usual.
    for (auto& slot : slots_) {
      if (slot->active && (cancel_all || slot->handle->cancelled())) {
        Finish(*slot, FinishReason::kCancelled);
      }
    }
    Admit(admitted);
    const bool any = std::any_of(slots_.begin(), slots_.end(), [](auto& s) { return s->active; });
    if (any) {
      Status st = Step();
      if (!st.ok()) {
        // A failed pass leaves the caches of its sequences unusable: end them, keep serving.
        for (Slot* slot : batch_slots_) {
          if (slot->active) Finish(*slot, FinishReason::kError, st.error().message());
          slot->cache.Clear();
          slot->cached.clear();
        }
      }
    }
    std::lock_guard lock(mu_);
    kv_cells_used_ = 0;
    for (auto& slot : slots_) kv_cells_used_ += slot->cache.n_past();
    steps_ += any ? 1 : 0;
  }
  // Shutting down: every sequence ends, so no consumer waits forever.
  for (auto& slot : slots_) {
    if (slot->active) Finish(*slot, FinishReason::kCancelled);
  }
  std::lock_guard lock(mu_);
  for (Pending& p : queue_) {
    SequenceEvent event;
    event.done = true;
    event.finish = FinishReason::kCancelled;
    event.error = "the server is shutting down";
    p.handle->Push(std::move(event));
  }
  queue_.clear();
}

void BatchEngine::Admit(std::deque<Pending>& pending) {
  for (Pending& p : pending) {
    // The free slot whose kept prefix matches most of the prompt, else the least recently used.
    Slot* best = nullptr;
    size_t best_len = 0;
    for (auto& slot : slots_) {
      if (slot->active) continue;
      const size_t limit = std::min(slot->cached.size(), p.params.prompt.size() - 1);
      size_t len = 0;
      while (len < limit && slot->cached[len] == p.params.prompt[len]) ++len;
      // What the slot's cache can keep of it (a sliding window may have dropped it).
      len = static_cast<size_t>(slot->cache.Kept(static_cast<int64_t>(len)));
      if (best == nullptr || len > best_len ||
          (len == best_len && slot->last_used < best->last_used)) {
        best = slot.get();
        best_len = len;
      }
    }
    Slot& s = *best;  // the loop admits no more than there are free slots
    s.cache.Truncate(static_cast<int64_t>(best_len));
    s.cached.resize(best_len);
    s.active = true;
    s.order = ++admitted_;
    s.params = std::move(p.params);
    s.sampler = std::move(p.sampler);
    s.handle = std::move(p.handle);
    s.n_evaluated = best_len;
    s.reused = static_cast<int64_t>(best_len);
    s.generating = false;
    s.generated = 0;
    s.hit_stop_string = false;
    s.detok = std::make_unique<Detokenizer>(tokenizer_);
    s.stops = std::make_unique<StopMatcher>(s.params.stop);
    s.grammar = s.params.grammar != nullptr
                    ? std::make_unique<text::GrammarMatcher>(s.params.grammar)
                    : nullptr;
    for (int32_t t : s.params.prompt) s.sampler.Accept(t);
  }
}

Status BatchEngine::Step() {
  batch_.clear();
  batch_slots_.clear();
  for (auto& slot : slots_) {
    if (!slot->active || !slot->generating) continue;
    batch_.push_back(
        {.tokens = {&slot->next_token, 1}, .cache = &slot->cache, .logits = true, .prompt = false});
    batch_slots_.push_back(slot.get());
  }
  std::vector<Slot*> prefill;
  for (auto& slot : slots_) {
    if (slot->active && !slot->generating) prefill.push_back(slot.get());
  }
  std::sort(prefill.begin(), prefill.end(), [](Slot* a, Slot* b) { return a->order < b->order; });
  int64_t budget = options_.n_batch - static_cast<int64_t>(batch_.size());
  for (Slot* slot : prefill) {
    const auto remaining = static_cast<int64_t>(slot->params.prompt.size() - slot->n_evaluated);
    const int64_t chunk = std::min(remaining, budget);
    if (chunk <= 0) break;
    batch_.push_back({.tokens = std::span<const int32_t>(slot->params.prompt)
                                    .subspan(slot->n_evaluated, static_cast<size_t>(chunk)),
                      .cache = &slot->cache,
                      .logits = chunk == remaining,
                      .prompt = true});
    batch_slots_.push_back(slot);
    budget -= chunk;
  }
  if (batch_.empty()) return OkStatus();
  auto* logits = static_cast<float*>(logits_.data());
  WICK_RETURN_IF_ERROR(model_.ForwardBatch(batch_, backend_, logits));

  const int64_t n_vocab = model_.hparams().n_vocab;
  int64_t row = 0;
  for (size_t i = 0; i < batch_.size(); ++i) {
    Slot& slot = *batch_slots_[i];
    if (batch_[i].prompt) {
      const auto& prompt = slot.params.prompt;
      slot.cached.insert(slot.cached.end(), batch_[i].tokens.begin(), batch_[i].tokens.end());
      slot.n_evaluated += batch_[i].tokens.size();
      if (slot.n_evaluated == prompt.size()) slot.generating = true;
    }
    if (batch_[i].logits) Sample(slot, logits + row++ * n_vocab);
  }
  return OkStatus();
}

namespace {

// log softmax of the chosen token and the `n` most likely ones, from the raw logits.
TokenLogprob Logprobs(std::span<const float> logits, int32_t token, int n) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double lse = max + std::log(sum);
  TokenLogprob out;
  out.token = token;
  out.logprob = static_cast<float>(logits[static_cast<size_t>(token)] - lse);
  if (n > 0) {
    for (int32_t id : sampling::TopLogitIds(logits, static_cast<size_t>(n))) {
      out.top.emplace_back(id, static_cast<float>(logits[static_cast<size_t>(id)] - lse));
    }
  }
  return out;
}

}  // namespace

void BatchEngine::Sample(Slot& slot, const float* logits) {
  const std::span<const float> row(logits, static_cast<size_t>(model_.hparams().n_vocab));
  Result<int32_t> sampled = slot.constrained.Sample(slot.sampler, slot.grammar.get(), row);
  if (!sampled.ok()) {
    Finish(slot, FinishReason::kError, sampled.error().message());
    return;
  }
  const int32_t token = *sampled;
  slot.sampler.Accept(token);
  if (slot.grammar != nullptr) {
    if (Status moved = slot.grammar->Advance(token); !moved.ok()) {
      Finish(slot, FinishReason::kError, moved.error().message());
      return;
    }
  }
  if (tokenizer_.IsEog(token)) {
    Finish(slot, FinishReason::kStop);
    return;
  }
  ++slot.generated;
  SequenceEvent event;
  if (slot.params.top_logprobs >= 0) {
    event.logprobs.push_back(Logprobs(row, token, slot.params.top_logprobs));
  }
  bool stopped = false;
  event.text = slot.stops->Push(slot.detok->Push(token), stopped);
  if (!event.text.empty() || !event.logprobs.empty()) slot.handle->Push(std::move(event));
  if (stopped) {
    slot.hit_stop_string = true;
    Finish(slot, FinishReason::kStop);
  } else if (slot.grammar != nullptr && slot.grammar->IsComplete()) {
    Finish(slot, FinishReason::kStop);  // nothing more may follow: no need to sample an end
  } else if ((slot.params.max_tokens >= 0 && slot.generated >= slot.params.max_tokens) ||
             slot.cache.n_past() >= slot.cache.n_ctx()) {
    Finish(slot, FinishReason::kLength);
  } else {
    slot.next_token = token;
  }
}

void BatchEngine::Finish(Slot& slot, FinishReason reason, std::string error) {
  SequenceEvent event;
  if (reason == FinishReason::kLength || (reason == FinishReason::kStop && !slot.hit_stop_string)) {
    // What the detokenizer and the stop matcher still hold is final now (after a stop string
    // Push already dropped everything that followed it).
    bool stopped = false;
    event.text = slot.stops->Push(slot.detok->Flush(), stopped);
    if (!stopped) event.text += slot.stops->Flush();
  }
  event.done = true;
  event.finish = reason;
  event.error = std::move(error);
  event.prompt_tokens = static_cast<int64_t>(slot.params.prompt.size());
  event.cached_tokens = slot.reused;
  event.completion_tokens = slot.generated;
  {
    // Counted before the consumer hears of it, so what it reads next in Stats agrees.
    std::lock_guard lock(mu_);
    --active_;
    if (reason == FinishReason::kCancelled) ++cancelled_;
  }
  slot.handle->Push(std::move(event));
  // Keep the prompt's cells for the prefix cache; generated tokens' are dropped.
  slot.cached.resize(
      static_cast<size_t>(slot.cache.Truncate(static_cast<int64_t>(slot.cached.size()))));
  slot.active = false;
  slot.last_used = ++admitted_;
  slot.handle.reset();
  slot.detok.reset();
  slot.stops.reset();
  slot.grammar.reset();
  slot.params = {};
}

}  // namespace wick::engine
