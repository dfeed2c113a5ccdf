#include "provider/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wick::provider {
namespace {

struct Collected {
  std::vector<std::string> events;
  bool ok = true;
};

// Feeds `stream` in the given pieces, then finishes.
Collected Parse(const std::vector<std::string>& pieces, bool finish = true) {
  SseParser parser;
  Collected out;
  auto sink = [&](std::string_view data) {
    out.events.emplace_back(data);
    return true;
  };
  for (const std::string& p : pieces) out.ok = parser.Feed(p, sink) && out.ok;
  if (finish) out.ok = parser.Finish(sink) && out.ok;
  return out;
}

const std::string kSample =
    "\xEF\xBB\xBF"  // a BOM, skipped
    ": ping\r\n"
    "event: message\r\n"
    "id: 7\r\n"
    "retry: 100\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data:no-space\n"
    "data:  two spaces\n"
    "\n"
    "data: line1\r"
    "data\r"
    "data: line3\r"
    "\r"
    "unknown: field\n"
    "\n"
    "data: [DONE]\n"
    "\n";
const std::vector<std::string> kSampleEvents = {"{\"a\":1}", "no-space\n two spaces",
                                                "line1\n\nline3", "[DONE]"};

TEST(SseParser, ParsesAWholeStream) {
  Collected c = Parse({kSample});
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.events, kSampleEvents);
}

TEST(SseParser, EverySplitPositionGivesTheSameEvents) {
  for (size_t i = 0; i <= kSample.size(); ++i) {
    Collected c = Parse({kSample.substr(0, i), kSample.substr(i)});
    EXPECT_EQ(c.events, kSampleEvents) << "split at " << i;
  }
  for (size_t i = 0; i <= kSample.size(); ++i) {
    for (size_t j = i; j <= kSample.size(); j += 3) {
      Collected c = Parse({kSample.substr(0, i), kSample.substr(i, j - i), kSample.substr(j)});
      ASSERT_EQ(c.events, kSampleEvents) << "split at " << i << " and " << j;
    }
  }
}

TEST(SseParser, ByteByByte) {
  std::vector<std::string> bytes;
  for (char c : kSample) bytes.emplace_back(1, c);
  EXPECT_EQ(Parse(bytes).events, kSampleEvents);
}

TEST(SseParser, CrLfSplitBetweenCrAndLfIsOneLineEnd) {
  // "\r" then "\n" must not be read as a line end followed by an empty line (a dispatch).
  Collected c = Parse({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  EXPECT_EQ(c.events, (std::vector<std::string>{"a\nb"}));
}

TEST(SseParser, FinalEventWithoutBlankLineOnlyOnFinish) {
  SseParser parser;
  std::vector<std::string> events;
  auto sink = [&](std::string_view data) {
    events.emplace_back(data);
    return true;
  };
  EXPECT_TRUE(parser.Feed("data: x\n\ndata: last\n", sink));
  EXPECT_EQ(events, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(parser.Finish(sink));
  EXPECT_EQ(events, (std::vector<std::string>{"x", "last"}));

  // A last line without any line end.
  EXPECT_EQ(Parse({"data: tail"}).events, (std::vector<std::string>{"tail"}));
  EXPECT_TRUE(Parse({"data: tail"}, /*finish=*/false).events.empty());
}

TEST(SseParser, EventsWithoutDataAreNotDispatched) {
  Collected c = Parse({": comment\n\nevent: ping\n\nid: 1\n\n\n\n"});
  EXPECT_TRUE(c.events.empty());
  // An empty data line is an event with empty data.
  EXPECT_EQ(Parse({"data:\n\n"}).events, (std::vector<std::string>{""}));
  EXPECT_EQ(Parse({"data\n\n"}).events, (std::vector<std::string>{""}));
}

TEST(SseParser, SinkCanStopTheParse) {
  SseParser parser;
  int seen = 0;
  EXPECT_FALSE(parser.Feed("data: 1\n\ndata: 2\n\n", [&](std::string_view) {
    ++seen;
    return false;
  }));
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(parser.overflowed());
}

TEST(SseParser, OverlongLineOrEventOverflows) {
  SseParser parser(16);
  auto sink = [](std::string_view) { return true; };
  EXPECT_FALSE(parser.Feed("data: " + std::string(32, 'x'), sink));
  EXPECT_TRUE(parser.overflowed());

  SseParser lines(16);
  EXPECT_FALSE(lines.Feed("data: 0123456789\ndata: 0123456789\n", sink));
  EXPECT_TRUE(lines.overflowed());
}

TEST(SseParser, PartialBomIsText) {
  // Bytes that start like a BOM but are not one stay part of the line.
  EXPECT_EQ(Parse({"\xEF", "data: x\n\n"}).events, std::vector<std::string>{});
  EXPECT_EQ(Parse({"\xEF\xBB", "\xBF", "data: x\n\n"}).events, std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace wick::provider
