#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace wick::server {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::RequestDone(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::Tokens(int64_t prompt, int64_t completion) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  completion_tokens_ += static_cast<uint64_t>(completion);
}

void Metrics::TimeToFirstToken(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.Observe(seconds);
}

void Metrics::InterTokenLatency(double seconds) {
  std::lock_guard lock(mu_);
  itl_.Observe(seconds);
}

void Metrics::InFlight(int delta) {
  std::lock_guard lock(mu_);
  in_flight_ += delta;
}

std::string Metrics::Render(const engine::EngineStats* engine) const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP wick_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE wick_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += fmt::format("wick_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, count);
  }
  out += "# HELP wick_requests_in_flight Requests being answered now.\n";
  out += "# TYPE wick_requests_in_flight gauge\n";
  out += fmt::format("wick_requests_in_flight {}\n", in_flight_);
  out += "# HELP wick_prompt_tokens_total Prompt tokens of finished requests.\n";
  out += "# TYPE wick_prompt_tokens_total counter\n";
  out += fmt::format("wick_prompt_tokens_total {}\n", prompt_tokens_);
  out += "# HELP wick_completion_tokens_total Tokens generated for finished requests.\n";
  out += "# TYPE wick_completion_tokens_total counter\n";
  out += fmt::format("wick_completion_tokens_total {}\n", completion_tokens_);
  out += "# HELP wick_time_to_first_token_seconds From request to its first generated text.\n";
  out += "# TYPE wick_time_to_first_token_seconds histogram\n";
  ttft_.Render("wick_time_to_first_token_seconds", out);
  out += "# HELP wick_inter_token_latency_seconds Between consecutive streamed pieces.\n";
  out += "# TYPE wick_inter_token_latency_seconds histogram\n";
  itl_.Render("wick_inter_token_latency_seconds", out);
  if (engine != nullptr) {
    auto gauge = [&](const char* name, const char* help, auto value) {
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
    };
    gauge("wick_queue_depth", "Sequences waiting for a slot.", engine->queued);
    gauge("wick_slots_active", "Slots running a sequence.", engine->active);
    gauge("wick_slots_total", "Sequences that can run at once (--parallel).", engine->n_parallel);
    gauge("wick_kv_cache_used_cells", "KV cache positions holding a token.", engine->kv_cells_used);
    gauge("wick_kv_cache_total_cells", "KV cache positions over all slots.",
          engine->kv_cells_total);
    gauge("wick_kv_cache_usage_ratio", "Used over total KV cache positions.",
          engine->kv_cells_total > 0
              ? static_cast<double>(engine->kv_cells_used) / engine->kv_cells_total
              : 0.0);
    gauge("wick_kv_cache_bytes", "Memory of every slot's KV cache.", engine->kv_bytes);
    out += "# HELP wick_decode_steps_total Batched forward passes run.\n";
    out += "# TYPE wick_decode_steps_total counter\n";
    out += fmt::format("wick_decode_steps_total {}\n", engine->steps);
    out += "# HELP wick_sequences_cancelled_total Sequences ended early by their client.\n";
    out += "# TYPE wick_sequences_cancelled_total counter\n";
    out += fmt::format("wick_sequences_cancelled_total {}\n", engine->cancelled);
  }
  return out;
}

}  // namespace wick::server
