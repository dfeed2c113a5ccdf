#include "server/ui_assets.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <utility>

#include "server/http_util.h"

namespace wick::server {

namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript"},
    {".css", "text/css"},
    {".wasm", "application/wasm"},
    {".json", "application/json"},
    {".map", "application/json"},
}};

// The URL of each embedded file ("/" is index.html).
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kPageRoutes = {{
    {"/", "index.html"},
    {"/index.html", "index.html"},
    {"/app.js", "app.js"},
    {"/style.css", "style.css"},
    {"/wick.js", "wick.js"},
    {"/wick-worker.js", "wick-worker.js"},
}};

// COOP + COEP make the page cross-origin isolated (SharedArrayBuffer for the threaded engine);
// under COEP every subresource must allow being embedded, hence CORP on each of them.
void SetUiHeaders(httplib::Response& res) {
  res.set_header("Cross-Origin-Opener-Policy", "same-origin");
  res.set_header("Cross-Origin-Embedder-Policy", "require-corp");
  res.set_header("Cross-Origin-Resource-Policy", "same-origin");
  // Revalidate each time: a rebuilt wick or engine must not meet a page cached from before.
  res.set_header("Cache-Control", "no-cache");
}

void ServeWasmFile(const std::string& wasm_dir, const std::string& name, httplib::Response& res) {
  SetUiHeaders(res);
  if (!IsPlainFileName(name)) {
    return SendError(res, MakeError(400, fmt::format("invalid file name '{}' under /wasm/", name),
                                    "invalid_request_error"));
  }
  if (wasm_dir.empty()) {
    return SendError(res, MakeError(404,
                                    "the in-browser engine is not built (scripts/build-wasm), or "
                                    "wick serve has no --wasm-dir",
                                    "invalid_request_error", "", "not_found"));
  }
  std::ifstream in(wasm_dir + "/" + name, std::ios::binary);
  if (!in) {
    return SendError(res, MakeError(404, fmt::format("no file /wasm/{}", name),
                                    "invalid_request_error", "", "not_found"));
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  res.set_content(std::move(body), std::string(UiContentType(name)));
}

}  // namespace

std::optional<std::string_view> EmbeddedUiFile(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedUiFileCount; ++i) {
    const EmbeddedFile& f = kEmbeddedUiFiles[i];
    if (name == f.name) return std::string_view(reinterpret_cast<const char*>(f.data), f.size);
  }
  return std::nullopt;
}

std::string_view UiContentType(std::string_view name) {
  for (const auto& [ext, type] : kContentTypes) {
    if (name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext) return type;
  }
  return "application/octet-stream";
}

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

void AddUiRoutes(httplib::Server& http, const std::string& wasm_dir) {
  for (const auto& [path, name] : kPageRoutes) {
    const std::optional<std::string_view> body = EmbeddedUiFile(name);
    if (!body) continue;  // not embedded: 404 like any unknown path
    const std::string type(UiContentType(name));
    // A route is a regular expression: its dots must match only dots.
    std::string pattern;
    for (char c : path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    http.Get(pattern, [body = *body, type](const httplib::Request&, httplib::Response& res) {
      SetUiHeaders(res);
      res.set_content(body.data(), body.size(), type);
    });
  }
  // The name may hold anything, "%2f" decoded to '/' included: ServeWasmFile checks it.
  http.Get(R"(/wasm/(.*))", [wasm_dir](const httplib::Request& req, httplib::Response& res) {
    ServeWasmFile(wasm_dir, req.matches[1], res);
  });
}

}  // namespace wick::server
