#include "provider/sse_parser.h"

namespace wick::provider {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

bool SseParser::Feed(std::string_view bytes, const EventSink& sink) {
  size_t i = 0;
  // The BOM may itself arrive split; bytes matching its prefix are held back until it is
  // known whether they are one.
  while (at_start_ && i < bytes.size()) {
    if (bytes[i] == kBom[bom_matched_]) {
      ++i;
      if (++bom_matched_ == kBom.size()) at_start_ = false;
      continue;
    }
    at_start_ = false;
    line_.append(kBom.substr(0, bom_matched_));
  }
  while (i < bytes.size()) {
    const char c = bytes[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      ++i;
      if (!EndLine(sink)) return false;
      continue;
    }
    // Copy the run of ordinary bytes at once rather than byte by byte.
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    line_.append(bytes.substr(i, end - i));
    i = end;
    if (line_.size() > max_event_bytes_) {
      overflowed_ = true;
      return false;
    }
  }
  return true;
}

bool SseParser::Finish(const EventSink& sink) {
  if (at_start_ && bom_matched_ > 0) line_.append(kBom.substr(0, bom_matched_));
  at_start_ = false;
  if (!line_.empty() && !EndLine(sink)) return false;
  return Dispatch(sink);
}

bool SseParser::EndLine(const EventSink& sink) {
  std::string_view line = line_;
  bool ok = true;
  if (line.empty()) {
    ok = Dispatch(sink);
  } else if (line.front() != ':') {
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value);
      has_data_ = true;
      if (data_.size() > max_event_bytes_) {
        overflowed_ = true;
        ok = false;
      }
    }
  }
  line_.clear();
  return ok;
}

bool SseParser::Dispatch(const EventSink& sink) {
  if (!has_data_) return true;
  has_data_ = false;
  const bool ok = sink(data_);
  data_.clear();
  return ok;
}

}  // namespace wick::provider
