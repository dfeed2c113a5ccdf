#include "hub/download.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "hub/fake_hub.h"
#include "test_support.h"

namespace wick::hub {
namespace {

using testing::FakeFile;
using testing::FakeHub;
using testing::FakeMode;
using Clock = std::chrono::steady_clock;

constexpr char kRepo[] = "org/model";
constexpr char kCommit[] = "89abcdef0123456789abcdef0123456789abcdef";
constexpr int64_t kBigSize = 3 << 20;
constexpr int64_t kSmallSize = 300000;

std::string Bytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_.AddRepo(kRepo, kCommit,
                 {FakeFile{"big.gguf", big_, "", true}, FakeFile{"small.gguf", small_, "", true},
                  FakeFile{"config.json", "{\"a\": 1}", "", false}});
  }

  std::string Url(const std::string& file) const {
    return hub_.endpoint() + "/" + kRepo + "/resolve/main/" + file;
  }
  std::string Cdn(const std::string& bytes) const { return "/cdn/" + Sha256::HexOf(bytes); }
  // Fast retries, and parallel ranges from 64 KiB so that a 3 MiB file takes them.
  static DownloadOptions Fast() {
    DownloadOptions o;
    o.retry_backoff = std::chrono::milliseconds(1);
    o.max_retries = 3;
    o.min_parallel_size = 64 << 10;
    o.connections = 4;
    o.stall_timeout = std::chrono::seconds(5);
    return o;
  }
  static DownloadOptions Single() {
    DownloadOptions o = Fast();
    o.connections = 1;
    return o;
  }

  FakeHub hub_;
  wick::testing::TempDir dir_;
  const std::string big_ = Bytes(kBigSize, 7);
  const std::string small_ = Bytes(kSmallSize, 8);
  const std::string path_ = dir_.File("file.incomplete").string();
};

TEST_F(DownloadTest, OneConnectionIsByteExactWithItsSha256) {
  std::vector<DownloadProgress> progress;
  DownloadOptions o = Single();
  o.on_progress = [&](const DownloadProgress& p) { progress.push_back(p); };
  Result<DownloadStats> stats =
      Download(Url("small.gguf"), path_, kSmallSize, Sha256::HexOf(small_), o);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(ReadAll(path_), small_);
  EXPECT_EQ(stats->sha256, Sha256::HexOf(small_));
  EXPECT_EQ(stats->size, kSmallSize);
  EXPECT_EQ(stats->bytes_downloaded, kSmallSize);
  EXPECT_EQ(stats->connections, 1);
  EXPECT_FALSE(stats->resumed);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().done, kSmallSize);
  EXPECT_EQ(progress.back().total, kSmallSize);
  EXPECT_EQ(hub_.cdn_ranges(), std::vector<std::string>{""});
}

TEST_F(DownloadTest, RegularFileWithUnknownSizeAndNoHash) {
  Result<DownloadStats> stats = Download(Url("config.json"), path_, 0, "", Single());
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(ReadAll(path_), "{\"a\": 1}");
  EXPECT_EQ(stats->sha256, Sha256::HexOf("{\"a\": 1}"));  // computed even when not checked
}

TEST_F(DownloadTest, ResumesATruncatedTransferWithRange) {
  FakeMode mode;
  mode.truncate_after = 40000;
  mode.truncate_times = 1;
  hub_.SetMode(mode);
  DownloadOptions o = Single();
  o.max_retries = 0;
  const std::string sha = Sha256::HexOf(small_);
  Result<DownloadStats> first = Download(Url("small.gguf"), path_, kSmallSize, sha, o);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code(), ErrorCode::kUnavailable);
  const std::string& msg = first.error().message();
  EXPECT_NE(msg.find(Url("small.gguf")), std::string::npos) << msg;
  EXPECT_NE(msg.find("40000 of 300000 bytes"), std::string::npos) << msg;
  EXPECT_EQ(ReadAll(path_), small_.substr(0, 40000));  // the prefix is kept

  Result<DownloadStats> second = Download(Url("small.gguf"), path_, kSmallSize, sha, o);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->resumed_from, 40000);
  EXPECT_EQ(second->bytes_downloaded, kSmallSize - 40000);
  EXPECT_EQ(ReadAll(path_), small_);
  EXPECT_EQ(hub_.cdn_ranges().back(), "bytes=40000-");
}

TEST_F(DownloadTest, RetriesWithinOneCall) {
  FakeMode mode;
  mode.truncate_after = 50000;
  mode.truncate_times = 2;
  hub_.SetMode(mode);
  Result<DownloadStats> stats =
      Download(Url("small.gguf"), path_, kSmallSize, Sha256::HexOf(small_), Single());
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->retries, 2);
  EXPECT_EQ(ReadAll(path_), small_);
  EXPECT_EQ(hub_.cdn_ranges(), (std::vector<std::string>{"", "bytes=50000-", "bytes=100000-"}));
}

TEST_F(DownloadTest, GivesUpWhenNothingArrives) {
  FakeMode mode;
  mode.truncate_after = 0;  // headers, then the connection closes
  hub_.SetMode(mode);
  DownloadOptions o = Single();
  o.max_retries = 2;
  Result<DownloadStats> stats = Download(Url("small.gguf"), path_, kSmallSize, "", o);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(stats.error().message().find("0 of 300000 bytes after 2 retries"), std::string::npos)
      << stats.error().message();
  EXPECT_EQ(hub_.requests(Cdn(small_)), 3);
}

TEST_F(DownloadTest, ParallelRangesAreByteExact) {
  DownloadOptions o = Fast();
  o.piece_size = 256 << 10;
  Result<DownloadStats> stats = Download(Url("big.gguf"), path_, kBigSize, Sha256::HexOf(big_), o);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->connections, 4);
  EXPECT_EQ(stats->sha256, Sha256::HexOf(big_));
  EXPECT_EQ(stats->bytes_downloaded, kBigSize);
  EXPECT_EQ(ReadAll(path_), big_);
  const std::vector<std::string> ranges = hub_.cdn_ranges();
  EXPECT_EQ(ranges.size(), 12u);
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), "bytes=262144-524287"), ranges.end());
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), "bytes=2883584-3145727"), ranges.end());
}

TEST_F(DownloadTest, ParallelRangesRetryTruncatedPieces) {
  FakeMode mode;
  mode.truncate_after = 100000;
  mode.truncate_times = 3;
  hub_.SetMode(mode);
  DownloadOptions o = Fast();
  o.piece_size = 512 << 10;
  Result<DownloadStats> stats = Download(Url("big.gguf"), path_, kBigSize, Sha256::HexOf(big_), o);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->retries, 3);
  EXPECT_EQ(ReadAll(path_), big_);
}

TEST_F(DownloadTest, CancelledParallelDownloadResumesFromItsPrefix) {
  FakeMode slow;
  slow.bytes_per_second = 2 << 20;  // per connection
  hub_.SetMode(slow);
  std::atomic<bool> cancel{false};
  DownloadOptions o = Fast();
  o.piece_size = 256 << 10;
  o.cancel = &cancel;
  o.on_progress = [&](const DownloadProgress& p) {
    if (p.done >= (1 << 20)) cancel.store(true);
  };
  const std::string sha = Sha256::HexOf(big_);
  Result<DownloadStats> first = Download(Url("big.gguf"), path_, kBigSize, sha, o);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message().find("cancelled"), std::string::npos)
      << first.error().message();
  const int64_t kept = static_cast<int64_t>(std::filesystem::file_size(path_));
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, kBigSize);
  EXPECT_EQ(ReadAll(path_), big_.substr(0, static_cast<size_t>(kept)));  // a clean prefix

  hub_.SetMode(FakeMode{});
  cancel.store(false);
  o.on_progress = nullptr;
  Result<DownloadStats> second = Download(Url("big.gguf"), path_, kBigSize, sha, o);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->resumed_from, kept);
  EXPECT_EQ(second->bytes_downloaded, kBigSize - kept);
  EXPECT_EQ(ReadAll(path_), big_);
}

TEST_F(DownloadTest, FlippedByteIsCorruptNamesBothHashesAndRemovesTheFile) {
  FakeMode mode;
  mode.flip_byte = true;
  hub_.SetMode(mode);
  std::string flipped = big_;
  flipped[flipped.size() / 2] ^= 0x01;
  for (const DownloadOptions& o : {Single(), Fast()}) {
    Result<DownloadStats> stats =
        Download(Url("big.gguf"), path_, kBigSize, Sha256::HexOf(big_), o);
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.error().code(), ErrorCode::kCorrupt);
    const std::string& msg = stats.error().message();
    EXPECT_NE(msg.find("expected " + Sha256::HexOf(big_)), std::string::npos) << msg;
    EXPECT_NE(msg.find("got " + Sha256::HexOf(flipped)), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(path_));
  }
}

TEST_F(DownloadTest, ServerIgnoringRangeRestartsFromZero) {
  FakeMode mode;
  mode.ignore_range = true;
  hub_.SetMode(mode);
  WriteAll(path_, std::string(5000, 'x'));  // a prefix the server will not continue
  Result<DownloadStats> single =
      Download(Url("small.gguf"), path_, kSmallSize, Sha256::HexOf(small_), Single());
  ASSERT_TRUE(single.ok()) << single.error().message();
  EXPECT_FALSE(single->resumed);
  EXPECT_EQ(ReadAll(path_), small_);
  EXPECT_EQ(hub_.cdn_ranges(), std::vector<std::string>{"bytes=5000-"});

  std::filesystem::remove(path_);
  Result<DownloadStats> parallel =
      Download(Url("big.gguf"), path_, kBigSize, Sha256::HexOf(big_), Fast());
  ASSERT_TRUE(parallel.ok()) << parallel.error().message();
  EXPECT_EQ(parallel->connections, 1);
  EXPECT_EQ(ReadAll(path_), big_);
}

TEST_F(DownloadTest, SlowTransferStopsSoonAfterCancel) {
  FakeMode slow;
  slow.bytes_per_second = 64 << 10;
  hub_.SetMode(slow);
  std::atomic<bool> cancel{false};
  DownloadOptions o = Single();
  o.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.store(true);
  });
  const Clock::time_point start = Clock::now();
  Result<DownloadStats> stats = Download(Url("big.gguf"), path_, kBigSize, "", o);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  canceller.join();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(stats.error().message().find("cancelled"), std::string::npos);
  EXPECT_LT(seconds, 2.0);
  const int64_t kept = static_cast<int64_t>(std::filesystem::file_size(path_));
  EXPECT_GT(kept, 0);
  EXPECT_EQ(ReadAll(path_), big_.substr(0, static_cast<size_t>(kept)));
}

TEST_F(DownloadTest, CompleteFileWithTheRightHashNeedsNoRequest) {
  WriteAll(path_, small_);
  Result<DownloadStats> stats =
      Download(Url("small.gguf"), path_, kSmallSize, Sha256::HexOf(small_), Single());
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->connections, 0);
  EXPECT_EQ(stats->bytes_downloaded, 0);
  EXPECT_EQ(hub_.requests(Cdn(small_)), 0);
}

TEST_F(DownloadTest, FullSizeFileWithHolesStartsOver) {
  // What a killed parallel download leaves: the full size, zeros where ranges never came.
  std::string holes = big_;
  std::fill(holes.begin() + 1000000, holes.end(), '\0');
  WriteAll(path_, holes);
  Result<DownloadStats> stats =
      Download(Url("big.gguf"), path_, kBigSize, Sha256::HexOf(big_), Fast());
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->bytes_downloaded, kBigSize);
  EXPECT_EQ(ReadAll(path_), big_);
}

TEST_F(DownloadTest, WrongSizeAndMissingFileAreErrors) {
  Result<DownloadStats> size = Download(Url("small.gguf"), path_, kSmallSize + 1, "", Single());
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(size.error().message().find("has 300000 bytes, expected 300001"), std::string::npos)
      << size.error().message();

  Result<DownloadStats> missing =
      Download(hub_.cdn_endpoint() + "/cdn/" + std::string(64, 'a'), path_, 10, "", Single());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  Result<DownloadStats> bad_hash = Download(Url("small.gguf"), path_, kSmallSize, "xyz", Single());
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_EQ(bad_hash.error().code(), ErrorCode::kInvalidArgument);
}

TEST(DownloadFormat, ProgressLineAndBytes) {
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(int64_t{512} << 20), "512.0 MiB");
  DownloadProgress p;
  p.total = 1181116006;  // 1.1 GiB
  p.done = int64_t{512} << 20;
  p.seconds = static_cast<double>(p.done) / (210.3 * 1048576);
  EXPECT_EQ(ProgressLine("model.gguf", p), "model.gguf 45% 512.0 MiB/1.1 GiB 210.3 MiB/s ETA 3s");
  p.total = 0;
  EXPECT_EQ(ProgressLine("x", p), "x 512.0 MiB 210.3 MiB/s");
  EXPECT_EQ(RedactUrl("https://cdn.example/a/b?X-Amz-Signature=s#f"), "https://cdn.example/a/b");
}

}  // namespace
}  // namespace wick::hub
