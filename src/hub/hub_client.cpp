#include "hub/hub_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/ascii.h"
#include "core/sha256.h"

#ifndef WICK_VERSION_STRING
#define WICK_VERSION_STRING "0"
#endif

namespace wick::hub {
namespace {

// API answers are a few KiB to a few MiB (a repository with thousands of files); anything
// beyond this is not the hub.
constexpr size_t kMaxBody = size_t{64} << 20;
constexpr int kMaxRelativeRedirects = 5;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

bool EnvTrue(const char* name) {
  std::string v = Env(name);
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

// Whole seconds from the environment, or `fallback` when unset or not a positive number.
std::chrono::milliseconds EnvSeconds(const char* name, std::chrono::milliseconds fallback) {
  const std::string v = Env(name);
  char* end = nullptr;
  const long s = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || s <= 0) return fallback;
  return std::chrono::seconds(s);
}

// As huggingface_hub cleans a token: line breaks removed, surrounding spaces trimmed.
std::string CleanToken(std::string token) {
  token.erase(
      std::remove_if(token.begin(), token.end(), [](char c) { return c == '\r' || c == '\n'; }),
      token.end());
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!token.empty() && space(token.back())) token.pop_back();
  const auto first = std::find_if_not(token.begin(), token.end(), space);
  return std::string(first, token.end());
}

// "https://host:port" of a URL, lowercased: whether two URLs reach the same server.
std::string Origin(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  const size_t path = url.find_first_of("/?#", scheme + 3);
  return AsciiLower(url.substr(0, path));
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names, the last response's
  std::string body;
  std::string error;  // a transport failure; empty when a response arrived

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it != headers.end() ? it->second : std::string();
  }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Response*>(user);
  const size_t n = size * count;
  if (r->body.size() + n > kMaxBody) return 0;
  r->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Response*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.size() >= 5 && AsciiLower(line.substr(0, 5)) == "http/") {
    r->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  r->headers[AsciiLower(line.substr(0, colon))] = std::string(value);
  return n;
}

// One request, redirects not followed: the caller decides which to follow, so that the
// token can never travel to another host.
Response Fetch(const HubOptions& options, const std::string& url, bool head) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Response r;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    r.error = "libcurl could not create a handle";
    return r;
  }
  char error_buffer[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  if (!options.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + options.token).c_str());
  }
  // The size of the file, not of a compressed answer.
  headers = curl_slist_append(headers, "Accept-Encoding: identity");
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, options.connect_timeout.count())));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, options.timeout.count())));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (head) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  if (code != CURLE_OK) {
    r.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  return r;
}

// What a failed hub request means, in words that say what to do. `file` is empty for API
// calls about the whole repository.
Error HubError(const HubOptions& options, const Response& r, const std::string& url,
               std::string_view repo, std::string_view revision, std::string_view file) {
  const std::string code = r.Header("x-error-code");
  std::string hub_says = r.Header("x-error-message");
  if (hub_says.empty() && !r.body.empty()) {
    const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_string()) {
      hub_says = body["error"].get<std::string>();
    }
  }
  const std::string said = hub_says.empty() ? "" : " (the hub says: " + Quote(hub_says, 200) + ")";
  const std::string repo_q = Quote(repo);
  const bool has_token = !options.token.empty();
  const std::string login = "set HF_TOKEN or run `huggingface-cli login`";
  if (code == "RevisionNotFound") {
    return Error(ErrorCode::kNotFound,
                 fmt::format("revision {} not found in repository {}", Quote(revision), repo_q));
  }
  if (code == "EntryNotFound") {
    return Error(ErrorCode::kNotFound, fmt::format("file {} not found in {} at revision {}",
                                                   Quote(file), repo_q, Quote(revision)));
  }
  if (r.status == 403 && has_token) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{} is gated: accept its conditions at {}/{} with the account "
                             "of the token{}",
                             repo_q, options.endpoint, repo, said));
  }
  if (code == "RepoNotFound") {
    return Error(ErrorCode::kNotFound,
                 has_token ? fmt::format("repository {} not found (or the token's account "
                                         "cannot see it)",
                                         repo_q)
                           : fmt::format("repository {} not found; if it is private or gated, {}",
                                         repo_q, login));
  }
  if (r.status == 401 || r.status == 403) {
    return Error(ErrorCode::kInvalidArgument,
                 has_token ? fmt::format("the hub rejected the token for {} (HTTP {}): check "
                                         "HF_TOKEN or run `huggingface-cli login` again{}",
                                         repo_q, r.status, said)
                           : fmt::format("{} needs a token: {}{}", repo_q, login, said));
  }
  if (r.status == 404) {
    const std::string what =
        file.empty()
            ? fmt::format("repository {} or its revision {}", repo_q, Quote(revision))
            : fmt::format("file {} in {} at revision {}", Quote(file), repo_q, Quote(revision));
    return Error(ErrorCode::kNotFound, fmt::format("{} not found ({})", what, RedactUrl(url)));
  }
  const ErrorCode ec =
      r.status == 429 || r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kIo;
  return Error(ec, fmt::format("{}: HTTP {}{}", RedactUrl(url), r.status, said));
}

Status CheckOnline(const HubOptions& options, const std::string& url) {
  if (!options.offline) return OkStatus();
  return Error(ErrorCode::kUnavailable,
               "offline (HF_HUB_OFFLINE is set): not fetching " + RedactUrl(url));
}

std::string NormalizeEtag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

int64_t ParseSize(const std::string& text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

int64_t JsonSize(const nlohmann::json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_number_integer()) return -1;
  return object[key].get<int64_t>();
}

std::string JsonString(const nlohmann::json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_string()) return "";
  return object[key].get<std::string>();
}

}  // namespace

HubOptions HubOptions::FromEnvironment() {
  HubOptions o;
  std::string endpoint = Env("HF_ENDPOINT");
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (!endpoint.empty()) o.endpoint = endpoint;
  o.token = TokenFromEnvironment();
  o.user_agent = std::string("wick/") + WICK_VERSION_STRING;
  o.offline = EnvTrue("HF_HUB_OFFLINE");
  o.timeout = EnvSeconds("HF_HUB_ETAG_TIMEOUT", o.timeout);
  o.download_timeout = EnvSeconds("HF_HUB_DOWNLOAD_TIMEOUT", o.download_timeout);
  return o;
}

std::string HfHome() {
  const std::string home = Env("HF_HOME");
  const std::string user = Env("HOME");
  if (!home.empty()) return home[0] == '~' && !user.empty() ? user + home.substr(1) : home;
  const std::string xdg = Env("XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg + "/huggingface";
  return user + "/.cache/huggingface";
}

std::string TokenFromEnvironment() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    std::string token = CleanToken(Env(name));
    if (!token.empty()) return token;
  }
  std::string path = Env("HF_TOKEN_PATH");
  if (path.empty()) path = HfHome() + "/token";
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return CleanToken(text.str());
}

const RemoteFile* RepoInfo::Find(std::string_view path) const {
  for (const RemoteFile& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::string EscapePath(std::string_view text, bool keep_slashes) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slashes && c == '/')) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

HubClient::HubClient(HubOptions options) : options_(std::move(options)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') {
    options_.endpoint.pop_back();
  }
}

Result<RepoInfo> HubClient::Info(std::string_view repo, std::string_view revision) const {
  const std::string url = fmt::format("{}/api/models/{}/revision/{}?blobs=true", options_.endpoint,
                                      EscapePath(repo, true), EscapePath(revision, false));
  WICK_RETURN_IF_ERROR(CheckOnline(options_, url));
  const Response r = Fetch(options_, url, false);
  if (!r.error.empty()) {
    return Error(ErrorCode::kUnavailable, fmt::format("{}: {}", RedactUrl(url), r.error));
  }
  if (r.status != 200) return HubError(options_, r, url, repo, revision, "");
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  const std::string where = RedactUrl(url) + ": ";
  if (!body.is_object()) return Error(ErrorCode::kCorrupt, where + "the answer is not JSON");
  RepoInfo info;
  info.repo = std::string(repo);
  info.commit = JsonString(body, "sha");
  if (info.commit.empty()) return Error(ErrorCode::kCorrupt, where + "no commit sha");
  info.is_private =
      body.contains("private") && body["private"].is_boolean() && body["private"].get<bool>();
  // "gated" is false, or the kind of gate: "auto" or "manual".
  info.gated = body.contains("gated") &&
               (body["gated"].is_string() || (body["gated"].is_boolean() && body["gated"]));
  if (!body.contains("siblings") || !body["siblings"].is_array()) {
    return Error(ErrorCode::kCorrupt, where + "no file list (siblings)");
  }
  for (const nlohmann::json& s : body["siblings"]) {
    if (!s.is_object()) continue;
    RemoteFile f;
    f.path = JsonString(s, "rfilename");
    if (f.path.empty()) continue;
    f.size = JsonSize(s, "size");
    f.blob_id = JsonString(s, "blobId");
    f.etag = f.blob_id;
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const nlohmann::json& lfs = s["lfs"];
      f.sha256 = AsciiLower(JsonString(lfs, "sha256"));
      if (!IsSha256Hex(f.sha256)) {
        return Error(ErrorCode::kCorrupt,
                     where + "file " + Quote(f.path) + ": LFS sha256 is not 64 hex digits");
      }
      f.lfs = true;
      f.etag = f.sha256;
      if (f.size < 0) f.size = JsonSize(lfs, "size");
    }
    info.files.push_back(std::move(f));
  }
  return info;
}

std::string HubClient::ResolveUrl(std::string_view repo, std::string_view revision,
                                  std::string_view file) const {
  return fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, EscapePath(repo, true),
                     EscapePath(revision, false), EscapePath(file, true));
}

Result<FileMeta> HubClient::Head(std::string_view repo, std::string_view revision,
                                 std::string_view file) const {
  std::string url = ResolveUrl(repo, revision, file);
  WICK_RETURN_IF_ERROR(CheckOnline(options_, url));
  Response r;
  for (int hop = 0;; ++hop) {
    r = Fetch(options_, url, true);
    if (!r.error.empty()) {
      return Error(ErrorCode::kUnavailable, fmt::format("{}: {}", RedactUrl(url), r.error));
    }
    const std::string location = r.Header("location");
    // A relative redirect stays on the hub (a renamed repository): follow it with the token.
    // An absolute one leads to the CDN: its URL is the answer, and it never sees the token.
    const bool relative = !location.empty() && location[0] == '/' && location.substr(0, 2) != "//";
    if (r.status / 100 == 3 && relative && hop < kMaxRelativeRedirects) {
      url = Origin(options_.endpoint) + location;
      continue;
    }
    break;
  }
  if (r.status >= 400 || r.status < 200) return HubError(options_, r, url, repo, revision, file);
  FileMeta meta;
  const bool redirect = r.status / 100 == 3;
  meta.url = redirect ? r.Header("location") : url;
  if (meta.url.empty()) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: HTTP {} without a Location", RedactUrl(url), r.status));
  }
  meta.commit = r.Header("x-repo-commit");
  const std::string linked = r.Header("x-linked-etag");
  meta.lfs = !linked.empty();
  meta.etag = NormalizeEtag(meta.lfs ? linked : r.Header("etag"));
  const std::string linked_size = r.Header("x-linked-size");
  meta.size =
      ParseSize(!linked_size.empty() ? linked_size : (redirect ? "" : r.Header("content-length")));
  if (meta.commit.empty() || meta.etag.empty()) {
    // What huggingface_hub also refuses: a proxy or a captive portal answered, not the hub.
    return Error(ErrorCode::kUnavailable,
                 fmt::format("{}: no X-Repo-Commit or ETag header: is {} a Hugging Face hub "
                             "(check HF_ENDPOINT, a proxy or a firewall)?",
                             RedactUrl(url), options_.endpoint));
  }
  return meta;
}

DownloadOptions HubClient::DownloadOptionsFor(std::string_view url) const {
  DownloadOptions d;
  d.user_agent = options_.user_agent;
  d.connect_timeout = options_.connect_timeout;
  d.stall_timeout = options_.download_timeout;
  if (Origin(url) == Origin(options_.endpoint)) d.bearer_token = options_.token;
  return d;
}

}  // namespace wick::hub
