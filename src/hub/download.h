// Downloading one file over HTTP(S) into a partial file, the way model weights need it:
// resumable (a second call continues from the bytes already there), several connections on
// byte ranges for big files, and the SHA-256 computed while the bytes stream in, so that a
// 20 GB file is never read a second time just to check it.
//
// Knows nothing of the hub's cache layout or API: a URL in, a checked file out. The caller
// (the puller) decides where the partial file lives and renames it once Download succeeds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace wick::hub {

struct DownloadProgress {
  int64_t done = 0;          // bytes of the file present now, a resumed prefix included
  int64_t total = 0;         // the file's size; 0 when unknown
  int64_t resumed_from = 0;  // bytes that were already there when this call began
  double seconds = 0;        // since this call began
  // Network bytes of this call per second, averaged since it began.
  double BytesPerSecond() const { return seconds > 0 ? (done - resumed_from) / seconds : 0; }
};

struct DownloadOptions {
  // Sent as "Authorization: Bearer" to the URL's own host only: libcurl drops it when a
  // redirect leads to another host or port (CURLOPT_UNRESTRICTED_AUTH stays off), which is
  // what a CDN's presigned URL needs (it rejects requests that carry a second credential).
  std::string bearer_token;
  std::string user_agent = "wick";
  // Connections for one big file, each on its own byte range.
  int connections = 8;
  // Remaining bytes from which a file is fetched over `connections` ranges.
  int64_t min_parallel_size = int64_t{64} << 20;
  // Bytes per range request in parallel mode; 0 picks one from the size and connections.
  int64_t piece_size = 0;
  // Failed attempts in a row that brought no new bytes before giving up; an attempt that
  // made progress (a connection that broke after a while) starts the count again.
  int max_retries = 5;
  std::chrono::milliseconds retry_backoff{500};  // doubled per failure, up to 8 s
  std::chrono::milliseconds connect_timeout{10000};
  // A connection that delivers nothing for this long is dropped and retried
  // (HF_HUB_DOWNLOAD_TIMEOUT). Whole seconds; at least one.
  std::chrono::milliseconds stall_timeout{10000};
  // Computes the SHA-256 as the bytes arrive; needed to check expected_sha256 (and forced on
  // when one is given). Off only to measure what hashing costs.
  bool hash = true;
  // Called on the calling thread, at most every ~100 ms and once at the end.
  std::function<void(const DownloadProgress&)> on_progress;
  // Set to true from any thread to stop soon (within ~50 ms while bytes flow); the partial
  // file keeps what arrived, for the next call to resume.
  const std::atomic<bool>* cancel = nullptr;
};

struct DownloadStats {
  int64_t size = 0;              // the file's final size
  int64_t bytes_downloaded = 0;  // over the network in this call
  int64_t resumed_from = 0;      // bytes already present that were kept
  double seconds = 0;
  bool resumed = false;  // resumed_from > 0
  int connections = 1;   // used (1 when the server ignored ranges, 0: already complete)
  int retries = 0;       // failed attempts that were retried
  std::string sha256;    // lowercase hex; empty when hashing was off
};

// Downloads `url` into `incomplete_path`, continuing from the bytes the file already holds
// (Range: bytes=N-, after hashing that prefix). `expected_size` <= 0 means unknown (one
// connection then); `expected_sha256` empty means nothing to check. Redirects are followed.
// On success the file holds exactly the URL's bytes. A SHA-256 mismatch removes the file
// (kCorrupt, naming both hashes); other failures keep the verified prefix for a later call.
// Errors name the URL (without its query string, which may be a signature), never the token.
Result<DownloadStats> Download(const std::string& url, const std::string& incomplete_path,
                               int64_t expected_size, std::string_view expected_sha256,
                               const DownloadOptions& options = {});

// "1023 B", "512.0 MiB", "1.1 GiB".
std::string FormatBytes(int64_t bytes);
// One line for a progress bar: "name 45% 512.0 MiB/1.1 GiB 210.3 MiB/s ETA 3s" (without the
// percentage, total and ETA when the size is unknown).
std::string ProgressLine(std::string_view name, const DownloadProgress& progress);
// `url` without its query string and fragment, for messages.
std::string RedactUrl(std::string_view url);

}  // namespace wick::hub
