#include "shell/shell_parser.h"

#include <cctype>
#include <utility>

namespace wick::shell {

bool Redirect::Writes() const {
  if (op == ">&" || op == "<&") {
    // `>&2` and `2>&-` duplicate or close a descriptor; `>& file` writes a file.
    const std::string& t = target.text;
    if (t == "-") return false;
    bool digits = !t.empty();
    for (char c : t) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    return op == ">&" && !digits;
  }
  return op == ">" || op == ">>" || op == ">|" || op == "&>" || op == "&>>" || op == "<>";
}

bool Redirect::Appends() const {
  return op == ">>" || op == "&>>";
}

namespace {

constexpr size_t kNpos = std::string_view::npos;
// Quotes inside substitutions inside quotes ... deeper than this count as unterminated, so
// that a hostile line cannot exhaust the stack.
constexpr int kMaxNesting = 64;

struct Token {
  enum class Kind { kWord, kOp, kRedirect };
  Kind kind = Kind::kWord;
  Word word;
  std::string op;
  Redirect redirect;

  bool IsOp(std::string_view o) const { return kind == Kind::kOp && op == o; }
  bool IsWord() const { return kind == Kind::kWord; }
};

size_t FindClose(std::string_view s, size_t open, int nesting = 0);

// The index of the backtick closing the one at `open`, or npos.
size_t FindBacktick(std::string_view s, size_t open) {
  for (size_t j = open + 1; j < s.size(); ++j) {
    if (s[j] == '\\') {
      ++j;
    } else if (s[j] == '`') {
      return j;
    }
  }
  return kNpos;
}

// The index just past the double quote closing the one at `open`, or npos.
size_t SkipDouble(std::string_view s, size_t open, int nesting) {
  if (nesting > kMaxNesting) return kNpos;
  for (size_t j = open + 1; j < s.size(); ++j) {
    const char c = s[j];
    if (c == '\\') {
      ++j;
    } else if (c == '"') {
      return j + 1;
    } else if (c == '`') {
      j = FindBacktick(s, j);
      if (j == kNpos) return kNpos;
    } else if (c == '$' && j + 1 < s.size() && s[j + 1] == '(') {
      j = FindClose(s, j + 1, nesting + 1);
      if (j == kNpos) return kNpos;
    }
  }
  return kNpos;
}

// The index of the parenthesis closing the one at `open`, honouring quotes and nesting, or
// npos when the line ends first.
size_t FindClose(std::string_view s, size_t open, int nesting) {
  if (nesting > kMaxNesting) return kNpos;
  int depth = 0;
  for (size_t j = open; j < s.size(); ++j) {
    const char c = s[j];
    if (c == '\\') {
      ++j;
    } else if (c == '\'') {
      j = s.find('\'', j + 1);
      if (j == kNpos) return kNpos;
    } else if (c == '"') {
      j = SkipDouble(s, j, nesting + 1);
      if (j == kNpos) return kNpos;
      --j;
    } else if (c == '`') {
      j = FindBacktick(s, j);
      if (j == kNpos) return kNpos;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) return j;
    }
  }
  return kNpos;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Token> Run(bool* incomplete) {
    while (i_ < s_.size()) Step();
    EndWord();
    if (!pending_heredocs_.empty()) incomplete_ = true;
    *incomplete = incomplete_;
    return std::move(tokens_);
  }

 private:
  char At(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  void Append(char c, Quoting q) {
    word_.text.push_back(c);
    word_.quoting.push_back(q);
    in_word_ = true;
  }
  void AppendRaw(std::string_view text, Quoting q) {
    for (char c : text) Append(c, q);
  }

  void EndWord() {
    if (!in_word_) return;
    if (pending_redirect_ != kNpos) {
      Redirect& r = tokens_[pending_redirect_].redirect;
      r.target = std::move(word_);
      if (r.op == "<<" || r.op == "<<-") pending_heredocs_.push_back(pending_redirect_);
      pending_redirect_ = kNpos;
    } else {
      Token t;
      t.word = std::move(word_);
      tokens_.push_back(std::move(t));
    }
    word_ = Word();
    in_word_ = false;
  }

  void PushOp(std::string op, size_t length) {
    EndWord();
    pending_redirect_ = kNpos;  // `> ;` has no target; the shell would refuse it
    Token t;
    t.kind = Token::Kind::kOp;
    t.op = std::move(op);
    tokens_.push_back(std::move(t));
    i_ += length;
  }

  void Step() {
    const char c = s_[i_];
    const char next = At(i_ + 1);
    if (c == ' ' || c == '\t' || c == '\r') {
      EndWord();
      ++i_;
    } else if (c == '\n') {
      PushOp("\n", 1);
      ReadHeredocs();
    } else if (c == '#' && !in_word_) {
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
    } else if (c == '\\') {
      if (next == '\n') {
        i_ += 2;
      } else if (i_ + 1 < s_.size()) {
        Append(next, Quoting::kLiteral);
        word_.quoted = true;
        i_ += 2;
      } else {
        ++i_;
      }
    } else if (c == '\'') {
      ReadSingle();
    } else if (c == '"') {
      ReadDouble();
    } else if (c == '$') {
      ReadDollar(Quoting::kBare);
    } else if (c == '`') {
      ReadBacktick(Quoting::kBare);
    } else if ((c == '<' || c == '>') && next == '(') {
      const size_t close = FindClose(s_, i_ + 1);
      const size_t end = close == kNpos ? s_.size() : close + 1;
      if (close == kNpos) incomplete_ = true;
      word_.process_substs.emplace_back(s_.substr(i_ + 2, end - 1 - (i_ + 2)));
      AppendRaw(s_.substr(i_, end - i_), Quoting::kBare);
      i_ = end;
    } else if (c == '<' || c == '>' || (c == '&' && next == '>')) {
      ReadRedirect();
    } else if (c == '&') {
      next == '&' ? PushOp("&&", 2) : PushOp("&", 1);
    } else if (c == '|') {
      next == '|' ? PushOp("||", 2) : next == '&' ? PushOp("|&", 2) : PushOp("|", 1);
    } else if (c == ';') {
      next == ';' || next == '&' ? PushOp(";;", 2) : PushOp(";", 1);
    } else if (c == '(' || c == ')') {
      PushOp(std::string(1, c), 1);
    } else {
      Append(c, Quoting::kBare);
      ++i_;
    }
  }

  void ReadSingle() {
    word_.quoted = true;
    in_word_ = true;
    const size_t close = s_.find('\'', i_ + 1);
    const size_t end = close == kNpos ? s_.size() : close;
    if (close == kNpos) incomplete_ = true;
    AppendRaw(s_.substr(i_ + 1, end - i_ - 1), Quoting::kLiteral);
    i_ = close == kNpos ? s_.size() : close + 1;
  }

  void ReadDouble() {
    word_.quoted = true;
    in_word_ = true;
    ++i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      const char next = At(i_ + 1);
      if (c == '"') {
        ++i_;
        return;
      }
      if (c == '\\' && (next == '$' || next == '`' || next == '"' || next == '\\')) {
        Append(next, Quoting::kLiteral);
        i_ += 2;
      } else if (c == '\\' && next == '\n') {
        i_ += 2;
      } else if (c == '$') {
        ReadDollar(Quoting::kDouble);
      } else if (c == '`') {
        ReadBacktick(Quoting::kDouble);
      } else {
        Append(c, Quoting::kDouble);
        ++i_;
      }
    }
    incomplete_ = true;
  }

  // $'...' quoting: backslash escapes, nothing expanded.
  void ReadAnsiC() {
    word_.quoted = true;
    i_ += 2;
    while (i_ < s_.size() && s_[i_] != '\'') {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        c = s_[i_++];
        if (c == 'n') c = '\n';
        if (c == 't') c = '\t';
      }
      Append(c, Quoting::kLiteral);
    }
    if (i_ >= s_.size()) incomplete_ = true;
    ++i_;
  }

  void ReadDollar(Quoting q) {
    const char next = At(i_ + 1);
    if (q == Quoting::kBare && next == '\'') return ReadAnsiC();
    if (q == Quoting::kBare && next == '"') {
      ++i_;
      return ReadDouble();
    }
    if (next == '(') {
      const bool arithmetic = At(i_ + 2) == '(';
      const size_t close = FindClose(s_, i_ + 1);
      const size_t end = close == kNpos ? s_.size() : close + 1;
      if (close == kNpos) incomplete_ = true;
      if (!arithmetic) word_.command_substs.emplace_back(s_.substr(i_ + 2, end - 1 - (i_ + 2)));
      AppendRaw(s_.substr(i_, end - i_), q);
      i_ = end;
      return;
    }
    if (next == '{') {
      size_t j = i_ + 2;
      for (int depth = 1; j < s_.size() && depth > 0; ++j) {
        if (s_[j] == '{') ++depth;
        if (s_[j] == '}') --depth;
      }
      AppendRaw(s_.substr(i_, j - i_), q);
      i_ = j;
      return;
    }
    Append('$', q);
    ++i_;
  }

  void ReadBacktick(Quoting q) {
    const size_t close = FindBacktick(s_, i_);
    const size_t end = close == kNpos ? s_.size() : close;
    if (close == kNpos) incomplete_ = true;
    // Inside backticks a backslash quotes only $, ` and itself.
    std::string body;
    for (size_t j = i_ + 1; j < end; ++j) {
      const char c = s_[j];
      if (c == '\\' && j + 1 < end && (s_[j + 1] == '`' || s_[j + 1] == '$' || s_[j + 1] == '\\')) {
        body.push_back(s_[++j]);
      } else {
        body.push_back(c);
      }
    }
    AppendRaw("$(", q);
    AppendRaw(body, q);
    AppendRaw(")", q);
    word_.command_substs.push_back(std::move(body));
    i_ = close == kNpos ? s_.size() : close + 1;
  }

  void ReadRedirect() {
    int fd = -1;
    bool digits = in_word_ && !word_.quoted && !word_.text.empty() && word_.text.size() < 5;
    for (char c : word_.text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) {
      fd = std::stoi(word_.text);
      word_ = Word();
      in_word_ = false;
    } else {
      EndWord();
    }
    static constexpr std::string_view kOps[] = {"&>>", "&>",  ">>", ">|", ">&", ">",
                                                "<<<", "<<-", "<<", "<&", "<>", "<"};
    std::string_view op = "<";
    for (std::string_view o : kOps) {
      if (s_.substr(i_, o.size()) == o) {
        op = o;
        break;
      }
    }
    pending_redirect_ = kNpos;
    Token t;
    t.kind = Token::Kind::kRedirect;
    t.redirect.op = std::string(op);
    t.redirect.fd = fd;
    tokens_.push_back(std::move(t));
    pending_redirect_ = tokens_.size() - 1;
    i_ += op.size();
  }

  // The bodies of the here-documents opened on the line that just ended.
  void ReadHeredocs() {
    for (size_t index : pending_heredocs_) {
      Redirect& r = tokens_[index].redirect;
      const bool strip_tabs = r.op == "<<-";
      bool closed = false;
      while (i_ < s_.size() && !closed) {
        size_t eol = s_.find('\n', i_);
        if (eol == kNpos) eol = s_.size();
        std::string_view line = s_.substr(i_, eol - i_);
        i_ = eol == s_.size() ? eol : eol + 1;
        while (strip_tabs && !line.empty() && line.front() == '\t') line.remove_prefix(1);
        if (line == r.target.text) {
          closed = true;
        } else {
          r.heredoc.append(line);
          r.heredoc.push_back('\n');
        }
      }
      if (!closed) incomplete_ = true;
    }
    pending_heredocs_.clear();
  }

  std::string_view s_;
  size_t i_ = 0;
  Word word_;
  bool in_word_ = false;
  std::vector<Token> tokens_;
  size_t pending_redirect_ = kNpos;  // the redirect token still waiting for its target
  std::vector<size_t> pending_heredocs_;
  bool incomplete_ = false;
};

// For each `{` word and `(` operator, the index of the token closing it (npos if none).
std::vector<size_t> MatchGroups(const std::vector<Token>& tokens) {
  std::vector<size_t> match(tokens.size(), kNpos);
  std::vector<size_t> open;
  for (size_t k = 0; k < tokens.size(); ++k) {
    const Token& t = tokens[k];
    const bool brace = t.IsWord() && t.word.IsBare("{");
    if (brace || t.IsOp("(")) {
      open.push_back(k);
      continue;
    }
    const bool close_brace = t.IsWord() && t.word.IsBare("}");
    if ((close_brace || t.IsOp(")")) && !open.empty() &&
        tokens[open.back()].IsWord() == close_brace) {
      match[open.back()] = k;
      open.pop_back();
    }
  }
  return match;
}

// Whether the body in [begin, end) calls `name` as a command piped to or from something, or
// in the background: each call then starts two processes, or one that outlives its parent.
bool ForksItself(const std::vector<Token>& tokens, size_t begin, size_t end,
                 const std::string& name) {
  bool command_position = true;
  for (size_t k = begin; k < end; ++k) {
    const Token& t = tokens[k];
    if (t.kind == Token::Kind::kOp) {
      command_position = true;
      continue;
    }
    if (!t.IsWord()) continue;
    if (command_position && t.word.text == name && !t.word.quoted) {
      if (k > begin && (tokens[k - 1].IsOp("|") || tokens[k - 1].IsOp("|&"))) return true;
      size_t m = k + 1;
      while (m < end && tokens[m].kind != Token::Kind::kOp) ++m;
      if (m < end && (tokens[m].IsOp("|") || tokens[m].IsOp("|&") || tokens[m].IsOp("&"))) {
        return true;
      }
    }
    command_position = IsReservedWord(t.word) && command_position;
  }
  return false;
}

std::vector<FunctionDef> FindFunctions(const std::vector<Token>& tokens) {
  // A real line defines a few functions; a hostile one thousands of unclosed ones, each of
  // whose bodies would be scanned to the end of the line.
  constexpr size_t kMaxFunctions = 64;
  std::vector<FunctionDef> out;
  const std::vector<size_t> match = MatchGroups(tokens);
  for (size_t i = 0; i + 1 < tokens.size() && out.size() < kMaxFunctions; ++i) {
    if (!tokens[i].IsWord() || tokens[i].word.quoted) continue;
    size_t j = 0;
    std::string name;
    if (i + 2 < tokens.size() && tokens[i + 1].IsOp("(") && tokens[i + 2].IsOp(")")) {
      name = tokens[i].word.text;
      j = i + 3;
    } else if (tokens[i].word.IsBare("function") && tokens[i + 1].IsWord()) {
      name = tokens[i + 1].word.text;
      j = i + 2;
      if (j + 1 < tokens.size() && tokens[j].IsOp("(") && tokens[j + 1].IsOp(")")) j += 2;
    } else {
      continue;
    }
    while (j < tokens.size() && tokens[j].IsOp("\n")) ++j;
    if (j >= tokens.size()) break;
    const size_t end = match[j] == kNpos ? tokens.size() : match[j] + 1;
    out.push_back({.name = name, .forks_itself = ForksItself(tokens, j + 1, end, name)});
  }
  return out;
}

}  // namespace

bool IsReservedWord(const Word& word) {
  for (std::string_view r : {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done",
                             "while", "until", "esac"}) {
    if (word.IsBare(r)) return true;
  }
  return false;
}

ParsedLine ParseCommandLine(std::string_view line) {
  ParsedLine out;
  const std::vector<Token> tokens = Lexer(line).Run(&out.incomplete);
  out.functions = FindFunctions(tokens);

  Pipeline pipe;
  SimpleCommand cmd;
  auto end_command = [&] {
    if (!cmd.words.empty() || !cmd.redirects.empty()) pipe.commands.push_back(std::move(cmd));
    cmd = SimpleCommand();
  };
  auto end_pipeline = [&] {
    end_command();
    if (!pipe.commands.empty()) out.pipelines.push_back(std::move(pipe));
    pipe = Pipeline();
  };
  for (const Token& t : tokens) {
    if (t.kind == Token::Kind::kWord) {
      cmd.words.push_back(t.word);
    } else if (t.kind == Token::Kind::kRedirect) {
      cmd.redirects.push_back(t.redirect);
    } else if (t.op == "|" || t.op == "|&") {
      end_command();
    } else {
      if (t.op == "&") cmd.background = true;
      end_pipeline();
    }
  }
  end_pipeline();
  return out;
}

}  // namespace wick::shell
