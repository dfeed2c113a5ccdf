// What wick::hub::Download reaches on this machine: an in-process HTTP server on loopback
// serves a generated file (from memory, with byte ranges), downloaded over one connection and
// over N parallel ranges, each with and without the SHA-256 computed as the bytes arrive.
// Prints MB/s (10^6 bytes) for each, the hashing overhead, and raw SHA-256 speed. Loopback
// has no network limit, so this is the ceiling of the client itself: curl, the writes into
// the page cache, and hashing. Not a test (timings vary by machine).
//
//   build/release/bench/wick_hub_download [--size MiB] [--connections N] [--repeat R]
#include <fmt/format.h>
#include <httplib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "hub/download.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string Generate(int64_t size) {
  std::string out(static_cast<size_t>(size), '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&out[i], &x, 8);
  }
  return out;
}

// Serves `bytes` at /file; httplib itself answers Range requests with 206.
class Server {
 public:
  explicit Server(const std::string& bytes) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.set_keep_alive_max_count(100000);
    server_.Get("/file", [&bytes](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(bytes.size(), "application/octet-stream",
                               [&bytes](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return sink.write(bytes.data() + offset,
                                                   std::min<size_t>(length, 1 << 20));
                               });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}/file", port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// CPU seconds of the whole process (client and server threads) so far: what a case costs
// whatever else the machine runs, which the wall-clock rate does not show.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Run {
  double best_mbps = 0;
  double best_seconds = 0;
  double min_cpu = 1e30;
  int connections = 0;
};

Run Measure(const std::string& url, const std::string& path, int64_t size, const std::string& sha,
            int connections, bool hash, int repeat) {
  Run run;
  for (int r = 0; r < repeat; ++r) {
    std::filesystem::remove(path);
    wick::hub::DownloadOptions o;
    o.connections = connections;
    o.hash = hash;
    const double cpu0 = CpuSeconds();
    wick::Result<wick::hub::DownloadStats> stats =
        wick::hub::Download(url, path, size, hash ? sha : "", o);
    run.min_cpu = std::min(run.min_cpu, CpuSeconds() - cpu0);
    if (!stats.ok()) {
      fmt::print(stderr, "download failed: {}\n", stats.error().message());
      std::exit(1);
    }
    const double mbps = static_cast<double>(size) / stats->seconds / 1e6;
    if (mbps > run.best_mbps) {
      run.best_mbps = mbps;
      run.best_seconds = stats->seconds;
    }
    run.connections = stats->connections;
  }
  std::filesystem::remove(path);
  return run;
}

double RawSha256(const std::string& bytes) {
  const auto t0 = Clock::now();
  wick::Sha256 hasher;
  for (size_t at = 0; at < bytes.size(); at += 1 << 20) {
    hasher.Update(bytes.data() + at, std::min<size_t>(1 << 20, bytes.size() - at));
  }
  const std::string hex = hasher.FinishHex();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return hex.empty() ? 0 : static_cast<double>(bytes.size()) / seconds / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t size_mib = 1024;
  int connections = 8;
  int repeat = 3;
  std::string dir = std::filesystem::temp_directory_path().string();
  CLI::App app{"Download throughput of wick::hub::Download over loopback"};
  app.add_option("--size", size_mib, "File size in MiB")->check(CLI::PositiveNumber);
  app.add_option("--connections", connections, "Parallel ranges for the parallel runs")
      ->check(CLI::Range(2, 64));
  app.add_option("--repeat", repeat, "Runs per case (the best is shown)")
      ->check(CLI::PositiveNumber);
  app.add_option("--dir", dir, "Where the downloaded file is written");
  CLI11_PARSE(app, argc, argv);

  const int64_t size = size_mib << 20;
  fmt::print("generating {} MiB...\n", size_mib);
  const std::string bytes = Generate(size);
  const double sha_mbps = RawSha256(bytes);
  const std::string sha = wick::Sha256::HexOf(bytes);
  Server server(bytes);
  const std::string path = dir + "/wick_hub_download.incomplete";

  fmt::print("raw sha256 (one thread, in memory): {:.0f} MB/s\n\n", sha_mbps);
  fmt::print("{:<28} {:>10} {:>10} {:>12}\n", "case", "MB/s", "seconds", "CPU seconds");
  struct Case {
    int connections;
    Run hashed, plain;
  };
  std::vector<Case> cases = {{1, {}, {}}, {connections, {}, {}}};
  for (Case& c : cases) {
    c.plain = Measure(server.url(), path, size, sha, c.connections, false, repeat);
    c.hashed = Measure(server.url(), path, size, sha, c.connections, true, repeat);
    for (const auto& [name, run] : {std::pair{"no hash", c.plain}, std::pair{"sha256", c.hashed}}) {
      fmt::print("{:<28} {:>10.0f} {:>10.3f} {:>12.3f}\n",
                 fmt::format("{} conn, {}", run.connections, name), run.best_mbps, run.best_seconds,
                 run.min_cpu);
    }
  }
  fmt::print("\n");
  for (const Case& c : cases) {
    fmt::print("hashing overhead, {} conn: {:+.1f}% time, {:+.1f}% CPU\n", c.hashed.connections,
               (c.hashed.best_seconds / c.plain.best_seconds - 1) * 100,
               (c.hashed.min_cpu / c.plain.min_cpu - 1) * 100);
  }
  return 0;
}
