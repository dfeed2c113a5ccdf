// Hashes a file as one connection appends to it, on its own thread, reading the new bytes back
// from the page cache: the connection never waits for SHA-256, so where a core is free the
// hash costs the download no time at all (in the write callback it would add its whole cost:
// SHA-256 runs at about the speed of a fast local link). Private to src/hub.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/sha256.h"

namespace wick::hub {

// Feeds bytes [from, to) of the file to `hasher` (a resumed download's prefix, say); `path`
// names the file in errors.
Status HashFileRange(int fd, int64_t from, int64_t to, Sha256& hasher, const std::string& path);

class TrailingHasher {
 public:
  // Hashes `fd` (whose first `from` bytes `hasher` has seen) into `hasher`.
  TrailingHasher(int fd, Sha256& hasher, int64_t from, const std::string& path);
  ~TrailingHasher();
  TrailingHasher(const TrailingHasher&) = delete;
  TrailingHasher& operator=(const TrailingHasher&) = delete;

  // The file now holds `end` bytes. Called by the one writer.
  void Written(int64_t end);
  // The file is about to be cut back to nothing: hash from the start again.
  void Restart();
  // Waits until every byte written so far is hashed; an error if reading back failed.
  Status Finish();

 private:
  void Start();
  void Stop();
  Status Catch(int64_t end);  // hashes [hashed_, end)

  const int fd_;
  Sha256& hasher_;
  const std::string path_;
  int64_t hashed_;                // the thread's (the caller's once it is stopped)
  std::atomic<int64_t> written_;  // from the writer
  int64_t notified_ = 0;          // the writer's
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Status status_ = OkStatus();
  std::thread thread_;
};

}  // namespace wick::hub
