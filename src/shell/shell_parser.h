// A small parser for POSIX-style shell command lines, enough to rate what a line would run
// (shell/command_risk.h): it splits a line into pipelines of simple commands and keeps, for
// each word, how every byte was quoted, so a rule can tell `rm -rf *` (a glob) from
// `rm -rf '*'` (a file named "*"), and `"$HOME"` (expanded) from `'$HOME'` (literal).
//
// It understands quotes ('...', "...", $'...'), backslash escapes and line continuations,
// comments, the separators ; && || | |& & ;; ( ) and newlines, redirections with optional fd
// numbers (> >> >| < <> &> &>> >& <& << <<- <<<) including here-document bodies, command
// substitutions $(...) and `...`, process substitutions <(...) >(...), arithmetic $((...)),
// parameter expansions ${...}, and function definitions (to spot fork bombs). It does not
// run anything or expand anything: substitution bodies are handed back as text for the
// caller to parse in turn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wick::shell {

// How one byte of a word was quoted, which decides what the shell still does with it.
enum class Quoting : uint8_t {
  kLiteral,  // inside '...' or after a backslash: nothing happens to it
  kDouble,   // inside "...": $ expansions happen, globs and ~ do not
  kBare,     // unquoted: globs, ~ and $ expansions all happen
};

struct Word {
  std::string text;                         // quotes removed; $(...) and ${...} kept as written
  std::vector<Quoting> quoting;             // one per byte of `text`
  std::vector<std::string> command_substs;  // bodies of $(...) and `...` in this word
  std::vector<std::string> process_substs;  // bodies of <(...) and >(...) in this word
  bool quoted = false;                      // some part of it was quoted

  // A glob character or leading ~ at `i` is live (unquoted).
  bool Bare(size_t i) const { return i < quoting.size() && quoting[i] == Quoting::kBare; }
  // A $ at `i` starts an expansion (unquoted or in double quotes).
  bool Expands(size_t i) const { return i < quoting.size() && quoting[i] != Quoting::kLiteral; }
  // The word is `s`, unquoted (a reserved word or an operator spelled as a word, like "{").
  bool IsBare(std::string_view s) const { return !quoted && text == s; }
};

struct Redirect {
  std::string op;        // ">", ">>", ">|", "<", "<>", "&>", "&>>", ">&", "<&", "<<", "<<-", "<<<"
  int fd = -1;           // the explicit fd before the operator, -1 when none
  Word target;           // file, fd number, here-string, or here-document delimiter
  std::string heredoc;   // the body of a here-document ("<<", "<<-")
  bool Writes() const;   // opens `target` for writing (not a dup of another fd)
  bool Appends() const;  // ">>" or "&>>"
};

struct SimpleCommand {
  std::vector<Word> words;
  std::vector<Redirect> redirects;
  bool background = false;  // ended by '&'
};

// Commands joined by | or |&; a lone command is a pipeline of one.
struct Pipeline {
  std::vector<SimpleCommand> commands;
};

// A function defined on the line (`name() { ... }` or `function name { ... }`).
struct FunctionDef {
  std::string name;
  bool forks_itself = false;  // its body calls it in a pipe or in the background
};

struct ParsedLine {
  std::vector<Pipeline> pipelines;  // in the order they appear
  std::vector<FunctionDef> functions;
  bool incomplete = false;  // an unterminated quote, substitution or here-document
};

// A reserved word that can start a command without being one: {, }, !, if, then, do ...
bool IsReservedWord(const Word& word);

// Parses one command line (which may span several lines).
ParsedLine ParseCommandLine(std::string_view line);

}  // namespace wick::shell
