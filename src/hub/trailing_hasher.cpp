#include "hub/trailing_hasher.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace wick::hub {

namespace {

// Read back and hashed at a time; also how far the writer gets before it wakes the thread.
constexpr int64_t kBlock = int64_t{8} << 20;
// The thread looks again this often when it was not woken: far below the time a connection
// needs to fill a block, so hashing trails the writer closely.
constexpr std::chrono::milliseconds kWait{5};

}  // namespace

Status HashFileRange(int fd, int64_t from, int64_t to, Sha256& hasher, const std::string& path) {
  std::vector<char> block(static_cast<size_t>(std::min(kBlock, std::max<int64_t>(to - from, 1))));
  while (from < to) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(to - from, block.size()));
    const ssize_t n = ::pread(fd, block.data(), want, from);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(ErrorCode::kIo, "reading " + path + ": " + std::strerror(errno));
    if (n == 0) return Error(ErrorCode::kIo, "reading " + path + ": the file shrank");
    hasher.Update(block.data(), static_cast<size_t>(n));
    from += n;
  }
  return OkStatus();
}

TrailingHasher::TrailingHasher(int fd, Sha256& hasher, int64_t from, const std::string& path)
    : fd_(fd), hasher_(hasher), path_(path), hashed_(from), written_(from), notified_(from) {
  Start();
}

TrailingHasher::~TrailingHasher() {
  Stop();
}

void TrailingHasher::Written(int64_t end) {
  written_.store(end, std::memory_order_release);
  if (end - notified_ >= kBlock) {
    notified_ = end;
    cv_.notify_one();
  }
}

void TrailingHasher::Restart() {
  Stop();
  status_ = OkStatus();
  hasher_ = Sha256();
  hashed_ = 0;
  notified_ = 0;
  written_.store(0);
  Start();
}

Status TrailingHasher::Finish() {
  Stop();
  if (!status_.ok()) return status_;
  // What arrived after the thread's last look.
  return Catch(written_.load(std::memory_order_acquire));
}

void TrailingHasher::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_ && status_.ok()) {
      const int64_t end = written_.load(std::memory_order_acquire);
      if (end > hashed_) {
        lock.unlock();
        Status st = Catch(end);
        lock.lock();
        if (!st.ok()) status_ = st;
        continue;
      }
      cv_.wait_for(lock, kWait);
    }
  });
}

void TrailingHasher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

Status TrailingHasher::Catch(int64_t end) {
  if (end <= hashed_) return OkStatus();
  WICK_RETURN_IF_ERROR(HashFileRange(fd_, hashed_, end, hasher_, path_));
  hashed_ = end;
  return OkStatus();
}

}  // namespace wick::hub
