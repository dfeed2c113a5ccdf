#include "provider/remote_provider.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "api/openai_client.h"
#include "core/random.h"
#include "provider/curl_transfer.h"
#include "provider/sse_parser.h"

namespace wick::provider {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// An error body is a few hundred bytes; more is kept only to quote the start of it.
constexpr size_t kMaxErrorBody = 64 << 10;
// A non-streamed answer (a server that ignored stream: true) is read whole before parsing.
constexpr size_t kMaxJsonBody = 64 << 20;
constexpr milliseconds kProbeTimeout{5000};

Failure MakeFailure(FailureKind kind, std::string message, int http_status = 0) {
  Failure f;
  f.kind = kind;
  f.message = std::move(message);
  f.http_status = http_status;
  return f;
}

// Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3); zero when absent or unreadable.
milliseconds ParseRetryAfter(const std::string& value) {
  if (value.empty()) return milliseconds(0);
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(uint8_t(c)); })) {
    if (value.size() > 9) return milliseconds(int64_t{999'999'999} * 1000);
    return milliseconds(std::stoll(value) * 1000);
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return milliseconds(0);
  const time_t now = std::time(nullptr);
  return milliseconds(when > now ? static_cast<int64_t>(when - now) * 1000 : 0);
}

bool SaysContextLength(const api::ApiError& error) {
  if (error.code == "context_length_exceeded") return true;
  // vLLM and llama.cpp's server answer a 400 without a code but with OpenAI's wording.
  std::string message = error.message;
  std::transform(message.begin(), message.end(), message.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return message.find("maximum context length") != std::string::npos ||
         message.find("context length exceeded") != std::string::npos;
}

Failure FromStatus(int status, const std::string& body, const std::string& retry_after) {
  const std::optional<api::ApiError> error = api::ParseErrorBody(body, status);
  std::string detail;
  if (error && !error->message.empty()) {
    detail = error->message;
  } else {
    detail = body.empty() ? std::string("no error body") : Quote(body, 200);
  }
  Failure f =
      MakeFailure(FailureKind::kServerError, fmt::format("HTTP {}: {}", status, detail), status);
  f.retry_after = ParseRetryAfter(retry_after);
  if (status == 429) {
    f.kind = FailureKind::kRateLimited;
  } else if (status == 503) {
    f.kind = FailureKind::kUnavailable;
  } else if (status == 408) {
    f.kind = FailureKind::kTimeout;
  } else if (status >= 500) {
    f.kind = FailureKind::kServerError;
  } else if (status >= 400) {
    f.kind =
        error && SaysContextLength(*error) ? FailureKind::kContextLength : FailureKind::kBadRequest;
  } else {
    f.message = fmt::format("unexpected HTTP status {}: {}", status, detail);
  }
  return f;
}

// An in-band error event ({"error": ...} as a data line): the stream failed after it began.
Failure FromErrorEvent(const api::ApiError& error) {
  const FailureKind kind =
      SaysContextLength(error) ? FailureKind::kContextLength : FailureKind::kServerError;
  return MakeFailure(kind, "error event in the stream: " +
                               (error.message.empty() ? std::string("no message") : error.message));
}

// Turns the response body into deltas for the sink as it arrives: SSE normally, a whole JSON
// response from a server that ignored stream: true, or an error body to quote.
class StreamReader {
 public:
  StreamReader(size_t expected_choices, const DeltaSink& sink)
      : sink_(sink), finished_(expected_choices, false) {}

  // False stops the transfer; failure() then says why.
  bool OnBody(int status, std::string_view content_type, std::string_view bytes) {
    if (status < 200 || status >= 300) {
      if (error_body_.size() < kMaxErrorBody) {
        error_body_.append(bytes.substr(0, kMaxErrorBody - error_body_.size()));
      }
      return true;
    }
    if (!json_mode_ && !sse_started_) {
      // Servers that ignore stream: true answer with the whole completion as JSON.
      json_mode_ = content_type.rfind("application/json", 0) == 0;
      sse_started_ = !json_mode_;
    }
    if (json_mode_) {
      if (json_body_.size() + bytes.size() > kMaxJsonBody) {
        return Fail(MakeFailure(FailureKind::kMalformed, "the JSON response is over 64 MiB"));
      }
      json_body_.append(bytes);
      return true;
    }
    const bool ok = parser_.Feed(bytes, [this](std::string_view data) { return OnEvent(data); });
    if (!ok && !failure_ && parser_.overflowed()) {
      return Fail(MakeFailure(FailureKind::kMalformed, "an SSE event is over the size limit"));
    }
    return ok;
  }

  // The body ended normally: what is still buffered is handled, then the stream is checked
  // for completeness. nullopt when it was a whole, consistent answer.
  std::optional<Failure> Finish() {
    if (failure_) return failure_;
    if (json_mode_) {
      FinishJson();
    } else {
      parser_.Finish([this](std::string_view data) { return OnEvent(data); });
    }
    if (failure_) return failure_;
    if (!json_mode_ && !done_) {
      return MakeFailure(FailureKind::kMalformed, "the stream ended without data: [DONE]");
    }
    for (size_t i = 0; i < finished_.size(); ++i) {
      if (!finished_[i]) {
        return MakeFailure(
            FailureKind::kMalformed,
            fmt::format("the stream ended without a finish_reason for choice {}", i));
      }
    }
    if (usage_ && usage_->completion_tokens < content_deltas_) {
      return MakeFailure(FailureKind::kMalformed,
                         fmt::format("usage says {} completion tokens, but {} pieces of text "
                                     "arrived",
                                     usage_->completion_tokens, content_deltas_));
    }
    return std::nullopt;
  }

  // Before the first delta, a server that ignored stream: true is still generating its whole
  // answer, so there is no first token to wait for.
  bool waiting_for_first_token() const { return !passed_ && !json_mode_; }
  bool passed() const { return passed_; }
  const std::optional<Failure>& failure() const { return failure_; }
  const std::string& error_body() const { return error_body_; }
  const std::string& model() const { return model_; }

  // What to charge: the server's usage when it sent one, else an estimate: a piece of text is
  // at least one token, and servers that batch several tokens per piece (wick does when it
  // falls behind) are counted at four bytes a token, the usual English average.
  api::Usage usage() const {
    if (usage_) return *usage_;
    api::Usage estimate;
    estimate.completion_tokens = std::max(content_deltas_, (content_bytes_ + 3) / 4);
    return estimate;
  }

 private:
  bool Fail(Failure failure) {
    if (!failure_) failure_ = std::move(failure);
    return false;
  }

  bool OnEvent(std::string_view data) {
    if (done_) return true;  // anything after [DONE] is not part of this answer
    if (data == "[DONE]") {
      done_ = true;
      return true;
    }
    nlohmann::json json = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return Fail(MakeFailure(FailureKind::kMalformed,
                              "invalid JSON in an SSE data line: " + Quote(data, 120)));
    }
    Result<api::ParsedChunk> chunk = api::ParseStreamChunk(json);
    if (!chunk.ok()) {
      return Fail(MakeFailure(FailureKind::kMalformed,
                              "unexpected stream chunk: " + chunk.error().message()));
    }
    if (chunk->error) return Fail(FromErrorEvent(*chunk->error));
    if (model_.empty()) model_ = chunk->model;
    if (chunk->usage) usage_ = chunk->usage;
    for (api::ChunkDelta& d : chunk->deltas) {
      Delta delta;
      delta.index = d.index;
      delta.text = std::move(d.text);
      delta.logprobs = std::move(d.logprobs);
      delta.finish_reason = std::move(d.finish_reason);
      delta.tool_calls = std::move(d.tool_calls);
      if (!Deliver(std::move(delta))) return false;
    }
    return true;
  }

  bool Deliver(Delta delta) {
    const int index = delta.index;
    if (index < 0 || static_cast<size_t>(index) >= finished_.size()) {
      return Fail(MakeFailure(FailureKind::kMalformed,
                              fmt::format("choice index {} out of range: {} choices were asked for",
                                          index, finished_.size())));
    }
    for (const api::ToolCallDelta& call : delta.tool_calls) {
      if (call.index >= kMaxToolCalls) {
        return Fail(MakeFailure(FailureKind::kMalformed,
                                fmt::format("tool call index {} of choice {}: at most {} calls",
                                            call.index, index, kMaxToolCalls)));
      }
      content_bytes_ += static_cast<int64_t>(call.name.size() + call.arguments.size());
    }
    // A chat stream's first chunk often carries only the role: nothing to pass on.
    if (delta.text.empty() && delta.logprobs.empty() && delta.finish_reason.empty() &&
        delta.tool_calls.empty()) {
      return true;
    }
    if (!delta.text.empty()) {
      ++content_deltas_;
      content_bytes_ += static_cast<int64_t>(delta.text.size());
    }
    if (!delta.finish_reason.empty()) finished_[static_cast<size_t>(index)] = true;
    passed_ = true;
    if (!sink_(delta)) return Fail(MakeFailure(FailureKind::kCancelled, "the caller stopped"));
    return true;
  }

  void FinishJson() {
    nlohmann::json json = nlohmann::json::parse(json_body_, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      Fail(MakeFailure(FailureKind::kMalformed,
                       "invalid JSON in the response body: " + Quote(json_body_, 120)));
      return;
    }
    if (auto error = api::ParseErrorBody(json_body_, 500); error && json.contains("error")) {
      Fail(FromErrorEvent(*error));
      return;
    }
    Result<api::ParsedCompletion> parsed = api::ParseCompletion(json);
    if (!parsed.ok()) {
      Fail(MakeFailure(FailureKind::kMalformed,
                       "unexpected completion response: " + parsed.error().message()));
      return;
    }
    model_ = parsed->model;
    usage_ = parsed->usage;
    for (api::ChoiceResult& c : parsed->choices) {
      Delta delta;
      delta.index = c.index;
      delta.text = std::move(c.text);
      delta.logprobs = std::move(c.logprobs);
      delta.finish_reason = std::move(c.finish_reason);
      delta.tool_calls = ToolCallDeltas(c.tool_calls);
      if (!Deliver(std::move(delta))) return;
    }
  }

  const DeltaSink& sink_;
  SseParser parser_;
  std::vector<bool> finished_;  // per expected choice: its finish_reason arrived
  bool sse_started_ = false;
  bool json_mode_ = false;
  std::string json_body_;
  std::string error_body_;
  bool done_ = false;
  bool passed_ = false;
  int64_t content_deltas_ = 0;
  int64_t content_bytes_ = 0;
  std::optional<api::Usage> usage_;
  std::string model_;
  std::optional<Failure> failure_;
};

size_t ExpectedChoices(const api::CompletionRequest& request) {
  const size_t n = static_cast<size_t>(std::max(request.n, 1));
  if (request.endpoint == api::Endpoint::kChat) return n;
  return n * std::max<size_t>(request.prompts.size(), 1);
}

bool Retryable(FailureKind kind) {
  switch (kind) {
    case FailureKind::kConnect:
    case FailureKind::kRateLimited:
    case FailureKind::kServerError:
    case FailureKind::kUnavailable:
      return true;
    default:
      return false;
  }
}

// Full jitter: uniform in [0, min(max, base * 2^attempt)], so that clients that failed
// together do not retry together.
milliseconds Backoff(int attempt, milliseconds base, milliseconds max) {
  const int64_t cap =
      std::min<int64_t>(max.count(), base.count() * (int64_t{1} << std::min(attempt, 30)));
  return milliseconds(
      static_cast<int64_t>(RandomU64() % static_cast<uint64_t>(std::max<int64_t>(cap, 0) + 1)));
}

// Waits `wait` unless cancelled first (then false), in steps short enough for a cancel to
// be noticed quickly.
bool SleepUnlessCancelled(milliseconds wait, const CancelToken& cancel) {
  const auto until = Clock::now() + wait;
  while (Clock::now() < until) {
    if (cancel.cancelled()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(20), until - Clock::now()));
  }
  return !cancel.cancelled();
}

bool IsHttpUrl(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

}  // namespace

struct RemoteProvider::Attempt {
  std::variant<Outcome, Failure> result;
  // A timeout another attempt might not hit: connecting, or waiting for the first token.
  // A total timeout is not: the whole call's time is spent.
  bool retryable_timeout = false;
};

RemoteOptions RemoteOptionsFrom(const RemoteConfig& r) {
  RemoteOptions o;
  o.info.name = r.name;
  o.info.models = r.models;
  o.info.context_length = r.context_length;
  o.info.price = r.price;
  o.endpoint = r.api_endpoint;
  o.api_key = r.api_key.value;
  o.api_key_env = r.api_key.env;
  o.connect_timeout = r.connect_timeout;
  o.first_token_timeout = r.first_token_timeout;
  o.total_timeout = r.total_timeout;
  o.max_retries = r.max_retries;
  return o;
}

Result<RemoteOptions> PresetOptions(std::string_view preset) {
  RemoteOptions options;
  options.info.name = std::string(preset);
  if (preset == "huggingface") {
    options.endpoint = "https://router.huggingface.co/v1";
    options.api_key_env = "HF_TOKEN";
  } else if (preset == "openai") {
    options.endpoint = "https://api.openai.com/v1";
    options.api_key_env = "OPENAI_API_KEY";
  } else if (preset != "wick" && preset != "openai-compatible") {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("unknown remote provider preset {} (expected huggingface, openai, "
                             "wick or openai-compatible)",
                             Quote(preset)));
  }
  return options;
}

RemoteProvider::RemoteProvider(RemoteOptions options)
    : options_(std::move(options)), pool_(std::make_unique<CurlPool>()) {}

RemoteProvider::~RemoteProvider() = default;

Result<std::unique_ptr<RemoteProvider>> RemoteProvider::Create(RemoteOptions options) {
  const std::string context = fmt::format("remote provider {}", Quote(options.info.name));
  auto invalid = [&](std::string message) {
    return Error(ErrorCode::kInvalidArgument, std::move(message)).With(context);
  };
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (!IsHttpUrl(options.endpoint)) {
    return invalid(
        fmt::format("endpoint {} is not an http:// or https:// URL", Quote(options.endpoint)));
  }
  if (options.connect_timeout.count() <= 0 || options.first_token_timeout.count() <= 0 ||
      options.total_timeout.count() <= 0) {
    return invalid("timeouts must be positive");
  }
  if (options.max_retries < 0 || options.max_retries > 100) {
    return invalid(
        fmt::format("max_retries must be between 0 and 100, got {}", options.max_retries));
  }
  if (options.backoff_base.count() < 0 || options.backoff_max < options.backoff_base) {
    return invalid("backoff_base must be >= 0 and backoff_max >= backoff_base");
  }
  if (options.api_key.find_first_of("\r\n") != std::string::npos) {
    return invalid("the API key holds a line break");
  }
  return std::unique_ptr<RemoteProvider>(new RemoteProvider(std::move(options)));
}

RemoteProvider::Attempt RemoteProvider::RunOnce(const api::CompletionRequest& request,
                                                const std::string& body, const DeltaSink& sink,
                                                const CancelToken& cancel, milliseconds time_left) {
  const char* path =
      request.endpoint == api::Endpoint::kChat ? "/chat/completions" : "/completions";
  HttpRequest http;
  http.url = options_.endpoint + path;
  http.body = body;
  http.headers = {"Content-Type: application/json", "Accept: text/event-stream",
                  // A 100-continue round trip before large bodies only adds latency.
                  "Expect:"};
  if (!options_.api_key.empty())
    http.headers.push_back("Authorization: Bearer " + options_.api_key);
  http.connect_timeout = std::min(options_.connect_timeout, time_left);
  http.total_timeout = time_left;

  StreamReader reader(ExpectedChoices(request), sink);
  const auto start = Clock::now();
  bool first_token_timeout = false;
  TransferHooks hooks;
  hooks.on_body = [&](int status, std::string_view content_type, std::string_view bytes) {
    return reader.OnBody(status, content_type, bytes);
  };
  hooks.keep_going = [&] {
    if (cancel.cancelled()) return false;
    if (reader.waiting_for_first_token() && Clock::now() - start >= options_.first_token_timeout) {
      first_token_timeout = true;
      return false;
    }
    return true;
  };
  const TransferResult transfer = pool_->Perform(http, hooks);

  Attempt attempt;
  Failure failure;
  using E = TransferResult::Error;
  if (cancel.cancelled()) {
    failure = MakeFailure(FailureKind::kCancelled, "cancelled");
  } else if (reader.failure()) {
    failure = *reader.failure();
  } else if (first_token_timeout) {
    failure = MakeFailure(FailureKind::kTimeout,
                          fmt::format("no token within the first-token timeout of {} ms",
                                      options_.first_token_timeout.count()),
                          transfer.status);
    attempt.retryable_timeout = true;
  } else if (transfer.status >= 300 || (transfer.status != 0 && transfer.status < 200)) {
    failure = FromStatus(transfer.status, reader.error_body(), transfer.retry_after);
  } else if (transfer.error == E::kConnect) {
    failure = MakeFailure(FailureKind::kConnect, "cannot connect: " + transfer.message);
  } else if (transfer.error == E::kTimeout) {
    failure = MakeFailure(FailureKind::kTimeout, "timed out: " + transfer.message);
    attempt.retryable_timeout = !transfer.connected;
  } else if (transfer.error != E::kNone) {
    // Nothing came back at all: the server is as good as unreachable.
    const FailureKind kind =
        transfer.status == 0 ? FailureKind::kConnect : FailureKind::kServerError;
    failure = MakeFailure(kind, "connection lost: " + transfer.message, transfer.status);
  } else if (std::optional<Failure> incomplete = reader.Finish()) {
    failure = std::move(*incomplete);
    failure.http_status = transfer.status;
  } else {
    Outcome outcome;
    outcome.usage = reader.usage();
    outcome.model = reader.model();
    attempt.result = std::move(outcome);
    return attempt;
  }
  failure.after_first_token = reader.passed();
  failure.partial_usage = reader.usage();
  attempt.result = std::move(failure);
  return attempt;
}

std::variant<Outcome, Failure> RemoteProvider::Stream(const api::CompletionRequest& request,
                                                      const DeltaSink& sink,
                                                      const CancelToken& cancel) {
  const auto start = Clock::now();
  const std::string& model = request.model.empty() && !options_.info.models.empty()
                                 ? options_.info.models.front()
                                 : request.model;
  const std::string body = api::Dump(api::RequestJson(request, model, /*stream=*/true));
  auto named = [&](Failure f, int attempts) {
    f.message = attempts > 1 ? fmt::format("{}: {} (after {} attempts)", options_.info.name,
                                           f.message, attempts)
                             : fmt::format("{}: {}", options_.info.name, f.message);
    return f;
  };
  for (int attempt = 0;; ++attempt) {
    const auto left =
        options_.total_timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (left.count() <= 0) {
      return named(
          MakeFailure(FailureKind::kTimeout, fmt::format("the total timeout of {} ms ran out",
                                                         options_.total_timeout.count())),
          attempt);
    }
    Attempt result = RunOnce(request, body, sink, cancel, left);
    if (Outcome* outcome = std::get_if<Outcome>(&result.result)) return std::move(*outcome);
    Failure& failure = std::get<Failure>(result.result);
    const bool retry = !failure.after_first_token && attempt < options_.max_retries &&
                       !cancel.cancelled() &&
                       (Retryable(failure.kind) ||
                        (failure.kind == FailureKind::kTimeout && result.retryable_timeout));
    if (!retry) return named(std::move(failure), attempt + 1);
    const milliseconds wait = failure.retry_after.count() > 0
                                  ? failure.retry_after
                                  : Backoff(attempt, options_.backoff_base, options_.backoff_max);
    // A wait past the deadline cannot end in an answer; failing now lets the router fall back.
    if (Clock::now() + wait >= start + options_.total_timeout) {
      return named(std::move(failure), attempt + 1);
    }
    if (!SleepUnlessCancelled(wait, cancel)) {
      return named(MakeFailure(FailureKind::kCancelled, "cancelled while waiting to retry"),
                   attempt + 1);
    }
  }
}

Health RemoteProvider::Probe() {
  HttpRequest http;
  http.url = options_.endpoint + "/models";
  http.post = false;
  if (!options_.api_key.empty())
    http.headers.push_back("Authorization: Bearer " + options_.api_key);
  http.total_timeout = std::min(kProbeTimeout, options_.total_timeout);
  http.connect_timeout = std::min(options_.connect_timeout, http.total_timeout);
  TransferHooks hooks;
  hooks.on_body = [](int, std::string_view, std::string_view) { return true; };
  const TransferResult result = pool_->Perform(http, hooks);
  return result.error == TransferResult::Error::kNone && result.status == 200 ? Health::kHealthy
                                                                              : Health::kUnhealthy;
}

}  // namespace wick::provider
