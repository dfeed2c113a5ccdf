// SHA-256 over bytes that arrive in pieces (a download as it streams in, a file read in
// blocks), through OpenSSL's EVP interface, which picks the CPU's SHA extensions when it has
// them. Hub files are named and checked by their SHA-256; the response cache keys by it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

struct evp_md_ctx_st;

namespace wick {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  // The digest of everything so far; the hasher then starts again, empty.
  Digest Finish();
  // Finish() as 64 lowercase hex digits.
  std::string FinishHex();

  static std::string Hex(const Digest& digest);
  static std::string HexOf(std::string_view bytes);
  // The whole file, read in large blocks. Errors name the file.
  static Result<std::string> HexOfFile(const std::string& path);

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

// Whether `text` is 64 hex digits (either case): the form of a SHA-256 in hub metadata.
bool IsSha256Hex(std::string_view text);

}  // namespace wick
