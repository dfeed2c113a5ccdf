#include "hub/model_ref.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <map>
#include <system_error>

#include "core/ascii.h"
#include "io/gguf_split.h"

namespace wick::hub {
namespace {

constexpr std::string_view kUrlScheme = "hf://";
// Ollama's spelling, hf.co/org/name:QUANT, is a short form behind a host name.
constexpr std::array<std::string_view, 2> kHosts = {"hf.co/", "huggingface.co/"};
constexpr size_t kMaxRepoPart = 96;
constexpr size_t kMaxRevision = 255;
constexpr size_t kMaxQuant = 64;
constexpr size_t kMaxRepoPath = 4096;
// Enough to choose from in an error message without flooding the terminal.
constexpr size_t kMaxListed = 40;
constexpr std::string_view kDefaultQuant = "Q4_K_M";

// ggml's type and file-type names. A tag is one of these, or one followed by '_' suffixes:
// Q4_K_XL and Q6_K_L (quantizers' mixes) and Q4_0_4_4 (repacked layouts) name real files.
constexpr std::array<std::string_view, 38> kQuantNames = {
    "F32",     "F16",    "BF16",   "Q4_0",   "Q4_1",    "Q5_0",   "Q5_1",  "Q8_0",
    "Q8_1",    "Q2_K",   "Q3_K",   "Q3_K_S", "Q3_K_M",  "Q3_K_L", "Q4_K",  "Q4_K_S",
    "Q4_K_M",  "Q5_K",   "Q5_K_S", "Q5_K_M", "Q6_K",    "Q8_K",   "IQ1_S", "IQ1_M",
    "IQ2_XXS", "IQ2_XS", "IQ2_S",  "IQ2_M",  "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M",
    "IQ4_NL",  "IQ4_XS", "TQ1_0",  "TQ2_0",  "MXFP4",   "F64",
};

std::string ToUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// '_' is not a boundary: it joins the parts of a tag (Q4_K_M), so Q4_K stops short of one.
bool IsTokenBoundary(char c) {
  return c == '-' || c == '.' || c == '/';
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

Status ValidateRepoPart(std::string_view part, std::string_view what) {
  if (part.empty()) return Invalid(fmt::format("the {} is empty", what));
  if (part.size() > kMaxRepoPart) {
    return Invalid(fmt::format("the {} is longer than {} characters", what, kMaxRepoPart));
  }
  for (char c : part) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Invalid(fmt::format("the {} may use only letters, digits, '-', '_' and '.', not {}",
                                 what, Quote(std::string_view(&c, 1))));
    }
  }
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') {
    return Invalid(fmt::format("the {} may not start or end with '-' or '.'", what));
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return Invalid(fmt::format("the {} may not contain \"--\" or \"..\"", what));
  }
  return OkStatus();
}

// Quant tags typed by users, including multi-token ones such as UD-Q4_K_XL.
Status ValidateQuant(std::string_view quant) {
  bool ok = !quant.empty() && quant.size() <= kMaxQuant;
  for (char c : quant) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  if (ok) return OkStatus();
  return Invalid(fmt::format("{} is neither a quant tag (such as Q4_K_M) nor a .gguf file name",
                             Quote(quant)));
}

// Text that can only mean a local path: the hub never sees it, and a missing file then
// gets "no such file" from the loader instead of a puzzling repo-id error.
bool LooksLikePath(std::string_view text) {
  if (text.front() == '/' || text.front() == '.' || text.front() == '~') return true;
  if (text.find(':') != std::string_view::npos) return false;
  if (IsGgufName(text)) return true;
  // org/name has one '/', and a revision after '@' may bring more (refs/pr/1).
  return text.find('@') == std::string_view::npos && std::count(text.begin(), text.end(), '/') > 1;
}

Status SetSpec(ModelRef& ref, std::string_view spec) {
  if (IsGgufName(spec)) {
    WICK_RETURN_IF_ERROR(ValidateRepoPath(spec));
    ref.file = spec;
    return OkStatus();
  }
  WICK_RETURN_IF_ERROR(ValidateQuant(spec));
  ref.quant = spec;
  return OkStatus();
}

Status SetRevision(ModelRef& ref, std::string revision) {
  WICK_RETURN_IF_ERROR(ValidateRevision(revision));
  ref.revision = std::move(revision);
  return OkStatus();
}

// org/name[@revision][:quant or file.gguf]
Result<ModelRef> ParseShortForm(std::string_view text) {
  ModelRef ref;
  size_t colon = text.find(':');
  std::string_view head = text.substr(0, colon);
  size_t at = head.find('@');
  std::string_view repo = head.substr(0, at);
  if (repo.find('/') == std::string_view::npos) {
    return Invalid(
        "no such file, and not a hub model either (expected org/name, org/name:QUANT, "
        "org/name:FILE.gguf or hf://org/name/FILE.gguf)");
  }
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  ref.repo = repo;
  if (at != std::string_view::npos)
    WICK_RETURN_IF_ERROR(SetRevision(ref, std::string(head.substr(at + 1))));
  if (colon != std::string_view::npos) {
    std::string_view spec = text.substr(colon + 1);
    if (spec.empty()) {
      return Invalid("nothing after ':' (expected a quant tag such as Q4_K_M or a .gguf file)");
    }
    WICK_RETURN_IF_ERROR(SetSpec(ref, spec));
  }
  return ref;
}

std::string DecodeSlashes(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && EqualsIgnoreCase(text.substr(i, 3), "%2F")) {
      out += '/';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// hf://org/name[@revision][/path/in/repo.gguf]. A revision holding '/' must be written
// with %2F, except refs/pr/N, which is recognised as the hub's own URLs do.
Result<ModelRef> ParseUrlForm(std::string_view text) {
  ModelRef ref;
  size_t first_slash = text.find('/');
  if (first_slash == std::string_view::npos) {
    return Invalid("expected hf://org/name/FILE.gguf");
  }
  size_t repo_end = std::min(text.find('/', first_slash + 1), text.size());
  size_t at = text.substr(0, repo_end).find('@');
  std::string_view repo = text.substr(0, std::min(at, repo_end));
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  ref.repo = repo;
  std::string_view rest = text.substr(repo_end);
  if (at != std::string_view::npos) {
    std::string_view after = text.substr(at + 1);
    size_t rev_end = after.find('/');
    if (after.starts_with("refs/pr/")) {
      rev_end = after.find('/', std::string_view("refs/pr/").size());
    }
    rev_end = std::min(rev_end, after.size());
    WICK_RETURN_IF_ERROR(SetRevision(ref, DecodeSlashes(after.substr(0, rev_end))));
    rest = after.substr(rev_end);
  }
  if (rest.starts_with('/')) rest.remove_prefix(1);
  if (rest.empty()) return ref;
  if (!IsGgufName(rest)) {
    return Invalid(fmt::format("{} is not a GGUF file (a name ending in .gguf)", Quote(rest)));
  }
  WICK_RETURN_IF_ERROR(SetSpec(ref, rest));
  return ref;
}

bool HasTag(std::string_view path, std::string_view tag) {
  if (tag.empty() || tag.size() > path.size()) return false;
  for (size_t at = 0; at + tag.size() <= path.size(); ++at) {
    if (!EqualsIgnoreCase(path.substr(at, tag.size()), tag)) continue;
    size_t end = at + tag.size();
    bool left = at == 0 || IsTokenBoundary(path[at - 1]);
    bool right = end == path.size() || IsTokenBoundary(path[end]);
    if (left && right) return true;
  }
  return false;
}

// One model of a repo: a lone GGUF file, or the parts of a split set (empty where missing).
struct Model {
  std::optional<GgufSplitName> split;
  std::vector<std::optional<RepoFile>> parts;
  std::string path;  // of its first part present, to match tags against and to show

  uint64_t Size() const {
    uint64_t total = 0;
    for (const auto& part : parts) total += part ? part->size : 0;
    return total;
  }
  std::string Describe() const {
    std::string quant = GuessQuant(path);
    std::string text = fmt::format("{} {}", quant.empty() ? "(no tag)" : quant, path);
    if (split) text += fmt::format(" ({} parts)", split->count);
    return text + fmt::format(" {}", HumanSize(Size()));
  }
};

// Groups GGUF files into models, sorted by path. Split sets are keyed by prefix and count,
// so two sets that differ only in part count stay apart.
std::vector<Model> GroupModels(const std::vector<RepoFile>& files, bool with_mmproj) {
  std::map<std::string, Model> by_key;
  for (const RepoFile& file : files) {
    if (!IsGgufName(file.path) || (!with_mmproj && IsMmprojName(file.path))) continue;
    std::optional<GgufSplitName> split = ParseGgufSplitName(file.path);
    std::string key = split ? fmt::format("{}-of-{:05d}", split->prefix, split->count) : file.path;
    Model& model = by_key[key];
    if (split) {
      model.split = split;
      model.parts.resize(static_cast<size_t>(split->count));
      model.parts[static_cast<size_t>(split->index - 1)] = file;
    } else {
      model.parts = {file};
    }
  }
  std::vector<Model> models;
  for (auto& [key, model] : by_key) {
    model.path = std::find_if(model.parts.begin(), model.parts.end(),
                              [](const auto& part) { return part.has_value(); })
                     ->value()
                     .path;
    models.push_back(std::move(model));
  }
  return models;
}

std::string DescribeAll(const std::vector<Model>& models) {
  if (models.empty()) return "the repo has no GGUF files";
  std::string text = "the repo has: ";
  for (size_t i = 0; i < models.size() && i < kMaxListed; ++i) {
    if (i > 0) text += "; ";
    text += models[i].Describe();
  }
  if (models.size() > kMaxListed) text += fmt::format("; and {} more", models.size() - kMaxListed);
  return text;
}

std::string DescribeTags(const std::vector<Model>& models) {
  std::vector<std::string> tags;
  for (const Model& model : models) {
    std::string tag = GuessQuant(model.path);
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
  }
  if (tags.empty()) return "";
  std::string text = tags.front();
  for (size_t i = 1; i < tags.size(); ++i) text += ", " + tags[i];
  return text;
}

Result<Selection> Choose(const Model& model, std::string_view typed_quant) {
  Selection selection;
  for (size_t i = 0; i < model.parts.size(); ++i) {
    if (model.parts[i]) {
      selection.files.push_back(*model.parts[i]);
      continue;
    }
    return Error(ErrorCode::kNotFound,
                 fmt::format("split model {} is missing part {} of {} ({})", Quote(model.path),
                             i + 1, model.parts.size(),
                             GgufSplitPath(model.split->prefix, static_cast<int>(i + 1),
                                           model.split->count)));
  }
  selection.quant = GuessQuant(selection.files.front().path);
  if (selection.quant.empty()) selection.quant = ToUpper(typed_quant);
  return selection;
}

Result<Selection> ChooseOne(const std::vector<Model>& matches, const std::vector<Model>& all,
                            std::string_view wanted, std::string_view typed_quant) {
  if (matches.size() == 1) return Choose(matches.front(), typed_quant);
  if (matches.empty()) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("no GGUF model {}; {}", wanted, DescribeAll(all)));
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("{} models match {}; name one with org/name:FILE.gguf; {}",
                           matches.size(), wanted, DescribeAll(matches)));
}

Result<Selection> SelectFile(const std::vector<RepoFile>& files, std::string_view wanted) {
  // Projectors are allowed here: naming one exactly is a deliberate choice.
  std::vector<Model> all = GroupModels(files, /*with_mmproj=*/true);
  std::vector<Model> matches;
  for (bool by_base_name : {false, true}) {
    for (const Model& model : all) {
      bool hit = std::any_of(model.parts.begin(), model.parts.end(), [&](const auto& part) {
        return part && (by_base_name ? BaseName(part->path) == wanted : part->path == wanted);
      });
      if (hit) matches.push_back(model);
    }
    if (!matches.empty()) break;
  }
  return ChooseOne(matches, all, fmt::format("with file {}", Quote(wanted)), "");
}

}  // namespace

std::string ModelRef::ToString() const {
  if (kind == Kind::kLocalPath) return path;
  std::string text = repo;
  if (revision != "main") text += "@" + revision;
  if (!Spec().empty()) text += ":" + Spec();
  return text;
}

Result<ModelRef> ParseModelRef(std::string_view text) {
  if (text.empty()) return Invalid("the model name is empty");
  std::error_code ec;
  const bool url = text.starts_with(kUrlScheme);
  std::string_view hub = url ? text.substr(kUrlScheme.size()) : text;
  const bool host = !url && std::any_of(kHosts.begin(), kHosts.end(), [&](std::string_view h) {
    return text.starts_with(h) && (hub = text.substr(h.size()), true);
  });
  if (std::filesystem::exists(std::filesystem::path(text), ec) ||
      (!url && !host && LooksLikePath(text))) {
    ModelRef ref;
    ref.kind = ModelRef::Kind::kLocalPath;
    ref.path = text;
    ref.revision.clear();
    return ref;
  }
  Result<ModelRef> ref = url ? ParseUrlForm(hub) : ParseShortForm(hub);
  if (!ref.ok()) return std::move(ref).error().With(fmt::format("model {}", Quote(text)));
  return ref;
}

Status ValidateRepoId(std::string_view repo_id) {
  size_t slash = repo_id.find('/');
  Status status = OkStatus();
  if (slash == std::string_view::npos) {
    status = Invalid("expected org/name");
  } else if (repo_id.find('/', slash + 1) != std::string_view::npos) {
    status = Invalid("expected org/name, with one '/'");
  } else {
    status = ValidateRepoPart(repo_id.substr(0, slash), "organisation");
    if (status.ok()) status = ValidateRepoPart(repo_id.substr(slash + 1), "name");
    if (status.ok() && EndsWithIgnoreCase(repo_id, ".git")) {
      status = Invalid("the name may not end in .git");
    }
  }
  if (!status.ok())
    return std::move(status).error().With(fmt::format("repo id {}", Quote(repo_id)));
  return status;
}

Status ValidateRevision(std::string_view revision) {
  auto bad = [&](std::string_view why) {
    return Invalid(fmt::format("revision {}: {}", Quote(revision), why));
  };
  if (revision.empty()) return bad("empty");
  if (revision.size() > kMaxRevision) return bad("too long");
  for (char c : revision) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || std::string_view(" ~^:?*[\\@").find(c) != std::string_view::npos) {
      return bad(fmt::format("the character {} is not allowed", Quote(std::string_view(&c, 1))));
    }
  }
  if (revision.front() == '/' || revision.back() == '/' || revision.back() == '.' ||
      revision.find("//") != std::string_view::npos ||
      revision.find("..") != std::string_view::npos ||
      revision.find("/.") != std::string_view::npos || revision.front() == '.' ||
      revision.ends_with(".lock")) {
    return bad("not a valid branch, tag or commit name");
  }
  return OkStatus();
}

Status ValidateRepoPath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Invalid(fmt::format("file path {}: {}", Quote(path), why));
  };
  if (path.empty()) return bad("empty");
  if (path.size() > kMaxRepoPath) return bad("too long");
  if (path.front() == '/') return bad("must be relative to the repo");
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("holds a control character");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return bad("has an empty, \".\" or \"..\" component");
    }
    start = end + 1;
  }
  return OkStatus();
}

uint64_t Selection::TotalSize() const {
  uint64_t total = 0;
  for (const RepoFile& file : files) total += file.size;
  return total;
}

Result<Selection> SelectGguf(const std::vector<RepoFile>& files, std::string_view spec) {
  if (IsGgufName(spec)) return SelectFile(files, spec);
  std::vector<Model> all = GroupModels(files, /*with_mmproj=*/false);
  if (all.empty()) return Error(ErrorCode::kNotFound, DescribeAll(all));
  if (spec.empty()) {
    if (all.size() == 1) return Choose(all.front(), "");
    std::vector<Model> matches;
    for (const Model& model : all) {
      if (HasTag(model.path, kDefaultQuant)) matches.push_back(model);
    }
    if (matches.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("the repo has {} GGUF models and none is {}: add one of these "
                               "tags as org/name:TAG: {}; {}",
                               all.size(), kDefaultQuant, DescribeTags(all), DescribeAll(all)));
    }
    return ChooseOne(matches, all, fmt::format("tagged {} (the default)", kDefaultQuant), "");
  }
  std::vector<Model> matches;
  for (const Model& model : all) {
    if (HasTag(model.path, spec)) matches.push_back(model);
  }
  return ChooseOne(matches, all, fmt::format("tagged {}", Quote(spec)), spec);
}

std::string GuessQuant(std::string_view file_name) {
  size_t end = file_name.size();
  while (end > 0) {
    size_t start = end;
    while (start > 0 && !IsTokenBoundary(file_name[start - 1])) --start;
    std::string token = ToUpper(file_name.substr(start, end - start));
    for (std::string_view name : kQuantNames) {
      if (token == name || (token.starts_with(name) && token[name.size()] == '_')) return token;
    }
    end = start > 0 ? start - 1 : 0;
  }
  return "";
}

bool IsGgufName(std::string_view file_name) {
  return EndsWithIgnoreCase(file_name, ".gguf");
}

bool IsMmprojName(std::string_view file_name) {
  std::string_view base = BaseName(file_name);
  for (size_t at = 0; at + 6 <= base.size(); ++at) {
    if (EqualsIgnoreCase(base.substr(at, 6), "mmproj")) return true;
  }
  return false;
}

std::string HumanSize(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  constexpr std::array<std::string_view, 5> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  // Three significant digits, as `du -h` and the hub's pages show sizes.
  if (value < 10) return fmt::format("{:.2f} {}", value, kUnits[unit]);
  if (value < 100) return fmt::format("{:.1f} {}", value, kUnits[unit]);
  return fmt::format("{:.0f} {}", value, kUnits[unit]);
}

}  // namespace wick::hub
