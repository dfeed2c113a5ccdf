// What a user types where a model is named, and which GGUF file(s) of a hub repo it means.
//
//   model.gguf                               a local file or folder (an existing path always wins)
//   org/name                                 the repo's only GGUF, else its Q4_K_M
//   org/name:q4_k_m                          a quant tag, matched case-insensitively in file names
//   org/name:sub/model-Q8_0.gguf             a file of the repo (a name ending in .gguf)
//   org/name@v1.0:Q8_0                       any of those at a branch, tag or commit
//   hf://org/name[@rev]/path/to/file.gguf    a file, in the hub's URL style
//   hf.co/org/name:Q8_0                      Ollama's spelling (huggingface.co/ too)
//
// Parsing needs no network; selection runs over the repo's file list, fetched from the hub or
// read from a cached snapshot, so `wick run` picks the same file online and offline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace wick::hub {

struct ModelRef {
  enum class Kind {
    kLocalPath,  // `path` names a file or folder on this machine (it may not exist)
    kHub,        // `repo` at `revision`, narrowed by `quant` or `file` (at most one is set)
  };
  Kind kind = Kind::kHub;
  std::string path;
  std::string repo;  // "org/name", validated
  std::string revision = "main";
  std::string quant;  // as typed: "q4_k_m"
  std::string file;   // a path in the repo: "sub/model-Q8_0.gguf"

  // What SelectGguf() takes: `file` if set, else `quant` (empty: the default choice).
  const std::string& Spec() const { return file.empty() ? quant : file; }
  // The canonical spelling: "org/name@rev:spec", "@rev" left out for main; or the path.
  std::string ToString() const;
};

// Reads a model reference. An existing path is always local; so is text that can only be a
// path (starting with '/', '.' or '~', or a name ending in .gguf with no ':'). Anything else
// must be a well-formed hub reference; errors quote the text typed and say what is wrong.
Result<ModelRef> ParseModelRef(std::string_view text);

// The hub's rules for "org/name": each part 1-96 of [A-Za-z0-9_.-], not starting or ending
// with '-' or '.', no "--" or ".." anywhere, and the name not ending in ".git". A namespace
// is required: repos without one are legacy, and "name" alone reads like a local file.
Status ValidateRepoId(std::string_view repo_id);
// A branch, tag, commit or "refs/pr/N": git's ref-name rules, so it is also a safe relative
// path under refs/ in the cache.
Status ValidateRevision(std::string_view revision);
// A file path inside a repo: relative, '/'-separated, no empty, "." or ".." parts, no
// control bytes. The cache checks every path from the hub with it before touching the disk.
Status ValidateRepoPath(std::string_view path);

// One file of a repo, as the hub lists it (or as a cached snapshot holds it).
struct RepoFile {
  std::string path;
  uint64_t size = 0;
};

// The file(s) to fetch for one model: a single GGUF, or every part of a split set in order.
struct Selection {
  std::vector<RepoFile> files;
  std::string quant;  // the quant tag of the choice ("Q4_K_M"), "" when the name has none
  uint64_t TotalSize() const;
};

// Chooses the model among `files` (any order, non-GGUF files ignored, "mmproj" projector files
// ignored unless named exactly). `spec` is ModelRef::Spec():
//  - a path ending in .gguf: that file (or, when unique, the file of that base name), and the
//    rest of its split set when it is one part of one;
//  - a quant tag: the GGUF whose path holds it as a whole token, case-insensitively; tokens are
//    separated by '-', '.', '/' or the ends ('_' belongs to the tag, so q4_k is not q4_k_m);
//  - empty: the only GGUF, else the one tagged Q4_K_M (llama.cpp's default for -hf).
// Every part of a split set must be present. No match, or several models matching, is an
// error listing the repo's models with their quant tags and sizes.
Result<Selection> SelectGguf(const std::vector<RepoFile>& files, std::string_view spec);

// The quant tag in a GGUF file name, upper case ("Q4_K_M", "IQ4_XS", "BF16", "Q4_0_4_4"),
// from the last path token that names a GGUF type (variants such as Q4_K_XL included);
// "" when none does.
std::string GuessQuant(std::string_view file_name);

bool IsGgufName(std::string_view file_name);  // ends in .gguf, any case
// Multimodal projector files, which sit beside the model in a repo but are not one.
bool IsMmprojName(std::string_view file_name);
// Bytes in binary units for messages and listings: "512 B", "1.50 KiB", "4.37 GiB", "982 MiB".
std::string HumanSize(uint64_t bytes);

}  // namespace wick::hub
