// The server's counters and latency histograms, rendered in the Prometheus text format for
// GET /metrics. Thread-safe: request threads record, the scrape reads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/batch_engine.h"

namespace wick::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // `name`_bucket{le=...}, `name`_sum and `name`_count lines.
  void Render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void RequestDone(const std::string& route, int status);
  void Tokens(int64_t prompt, int64_t completion);
  void TimeToFirstToken(double seconds);
  void InterTokenLatency(double seconds);
  void InFlight(int delta);

  // Every metric, with the engine's gauges (queue, slots, KV cache) as of now.
  std::string Render(const engine::EngineStats* engine) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0;
  uint64_t completion_tokens_ = 0;
  int in_flight_ = 0;
  Histogram ttft_;
  Histogram itl_;
};

}  // namespace wick::server
