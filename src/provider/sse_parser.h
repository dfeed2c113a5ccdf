// An incremental parser for Server-Sent Events (text/event-stream), as OpenAI-compatible
// servers stream completions: bytes go in as the network delivers them, split anywhere (even
// between the "\r" and "\n" of a line end), and each event's data comes out once its blank
// line arrives.
//
// Follows the WHATWG event-stream rules that matter to a client reading data: lines end in
// CRLF, LF or CR; "data:" with or without one space after the colon; several data lines of
// one event are joined with "\n"; lines starting with ':' are comments (keep-alive pings);
// "event", "id", "retry" and unknown fields are ignored; an event without data is not
// dispatched; a leading UTF-8 BOM is skipped.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace wick::provider {

class SseParser {
 public:
  // Called with each event's data; returning false stops the parse (Feed returns false).
  using EventSink = std::function<bool(std::string_view data)>;

  // `max_event_bytes` bounds one line and one event's data, so that a server that never ends
  // a line cannot grow our memory without limit.
  explicit SseParser(size_t max_event_bytes = 16u << 20) : max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`, dispatching each event completed by them. False when the sink stopped the
  // parse or an event grew past the limit (overflowed()); the parser must not be fed again.
  bool Feed(std::string_view bytes, const EventSink& sink);

  // The stream ended: a last line without its line end, and an event without its blank line,
  // are dispatched now.
  bool Finish(const EventSink& sink);

  bool overflowed() const { return overflowed_; }

 private:
  bool EndLine(const EventSink& sink);
  bool Dispatch(const EventSink& sink);

  size_t max_event_bytes_;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was '\r': a '\n' right after it ends nothing
  bool at_start_ = true;   // nothing fed yet: a BOM may follow
  size_t bom_matched_ = 0;
  bool overflowed_ = false;
};

}  // namespace wick::provider
