// The chat page `wick serve` shows at `/`: the files of web/ are embedded in the binary at build
// time (cmake/embed_files.cmake writes their bytes into a generated source that defines
// kEmbeddedUiFiles), and the in-browser engine's files under /wasm/ are read from a folder, so
// a rebuilt engine is served without rebuilding wick. Every response carries the cross-origin
// isolation headers: the page gets SharedArrayBuffer, which the threaded engine needs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace httplib {
class Server;
}  // namespace httplib

namespace wick::server {

struct EmbeddedFile {
  const char* name = nullptr;  // the file name in web/: "index.html"
  const unsigned char* data = nullptr;
  size_t size = 0;
};
// Defined by the generated source.
extern const EmbeddedFile kEmbeddedUiFiles[];
extern const size_t kEmbeddedUiFileCount;

// The bytes of the embedded file `name` ("app.js"), or nullopt.
std::optional<std::string_view> EmbeddedUiFile(std::string_view name);

// The Content-Type a browser needs for `name`, by its extension (application/wasm for .wasm:
// WebAssembly.instantiateStreaming accepts nothing else).
std::string_view UiContentType(std::string_view name);

// Whether `name` is a plain file name that cannot leave the folder it is joined to: letters,
// digits, '.', '-', '_', not starting with '.' (so no "..", no slash, no hidden file).
bool IsPlainFileName(std::string_view name);

// GET / and the page's files; GET /wasm/<name> from `wasm_dir` (empty: /wasm/* is 404).
void AddUiRoutes(httplib::Server& http, const std::string& wasm_dir);

}  // namespace wick::server
