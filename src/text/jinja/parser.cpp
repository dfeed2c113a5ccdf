#include "text/jinja/parser.h"

#include <fmt/format.h>

#include <algorithm>

#include "text/jinja/builtins.h"

namespace wick::jinja {
namespace {

// Deeper nesting than any real template has; keeps the recursive parser (and the
// interpreter walking its tree) well inside the stack.
constexpr int kMaxNesting = 100;
// The deepest syntax tree, counting chains like `a ~ b ~ c` (one level per link).
constexpr int kMaxDepth = 400;

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kData:
      return "template text";
    case TokenKind::kVariableBegin:
      return "'{{'";
    case TokenKind::kVariableEnd:
      return "end of print statement";
    case TokenKind::kBlockBegin:
      return "'{%'";
    case TokenKind::kBlockEnd:
      return "end of statement block";
    case TokenKind::kString:
      return "string";
    case TokenKind::kInteger:
    case TokenKind::kFloat:
      return "number";
    case TokenKind::kEof:
      return "end of template";
    default:
      return "'" + token.text + "'";
  }
}

std::string JoinTags(std::initializer_list<std::string_view> tags) {
  std::string out;
  for (std::string_view tag : tags) {
    if (!out.empty()) out += " or ";
    out += fmt::format("'{}'", tag);
  }
  return out;
}

// Jinja2 refuses a template that uses an unknown filter or test, except inside an `if`
// block or an inline `x if c else y`, where the error waits until that code runs (templates
// use this for filters only some runtimes have). Loop, macro and other block bodies inside an
// `if` are checked again.
class NameChecker {
 public:
  Status Check(const Body& body, bool soft) {
    for (const StmtPtr& stmt : body) WICK_RETURN_IF_ERROR(CheckStmt(*stmt, soft));
    return OkStatus();
  }

 private:
  Status CheckStmt(const Stmt& stmt, bool soft) {
    switch (stmt.kind) {
      case Stmt::Kind::kOutput:
        return CheckExpr(static_cast<const OutputStmt&>(stmt).expr.get(), soft);
      case Stmt::Kind::kIf: {
        const auto& s = static_cast<const IfStmt&>(stmt);
        for (const auto& [test, body] : s.branches) {
          WICK_RETURN_IF_ERROR(CheckExpr(test.get(), true));
          WICK_RETURN_IF_ERROR(Check(body, true));
        }
        return Check(s.otherwise, true);
      }
      case Stmt::Kind::kFor: {
        const auto& s = static_cast<const ForStmt&>(stmt);
        WICK_RETURN_IF_ERROR(CheckExpr(s.iterable.get(), soft));
        WICK_RETURN_IF_ERROR(CheckExpr(s.filter.get(), false));
        WICK_RETURN_IF_ERROR(Check(s.body, false));
        return Check(s.otherwise, false);
      }
      case Stmt::Kind::kSet:
        return CheckExpr(static_cast<const SetStmt&>(stmt).value.get(), soft);
      case Stmt::Kind::kSetBlock: {
        const auto& s = static_cast<const SetBlockStmt&>(stmt);
        WICK_RETURN_IF_ERROR(CheckExpr(s.filter.get(), false));
        return Check(s.body, false);
      }
      case Stmt::Kind::kMacro:
        return CheckMacro(static_cast<const MacroStmt&>(stmt));
      case Stmt::Kind::kCallBlock: {
        const auto& s = static_cast<const CallBlockStmt&>(stmt);
        WICK_RETURN_IF_ERROR(CheckExpr(s.call.get(), soft));
        return CheckMacro(*s.caller);
      }
      case Stmt::Kind::kFilterBlock: {
        const auto& s = static_cast<const FilterBlockStmt&>(stmt);
        WICK_RETURN_IF_ERROR(CheckExpr(s.filter.get(), false));
        return Check(s.body, false);
      }
      case Stmt::Kind::kScope: {
        const auto& s = static_cast<const ScopeStmt&>(stmt);
        for (const auto& [name, value] : s.assignments) {
          WICK_RETURN_IF_ERROR(CheckExpr(value.get(), soft));
        }
        return Check(s.body, false);
      }
      default:
        return OkStatus();
    }
  }

  Status CheckMacro(const MacroStmt& macro) {
    for (const MacroParam& param : macro.params) {
      WICK_RETURN_IF_ERROR(CheckExpr(param.default_value.get(), false));
    }
    return Check(macro.body, false);
  }

  Status CheckArgs(const ArgsExpr& args, bool soft) {
    for (const ExprPtr& arg : args.positional) WICK_RETURN_IF_ERROR(CheckExpr(arg.get(), soft));
    for (const auto& [name, arg] : args.keyword) WICK_RETURN_IF_ERROR(CheckExpr(arg.get(), soft));
    WICK_RETURN_IF_ERROR(CheckExpr(args.star_args.get(), soft));
    return CheckExpr(args.star_kwargs.get(), soft);
  }

  Status CheckExpr(const Expr* expr, bool soft) {
    if (expr == nullptr) return OkStatus();
    switch (expr->kind) {
      case Expr::Kind::kList:
        for (const ExprPtr& item : static_cast<const ListExpr*>(expr)->items) {
          WICK_RETURN_IF_ERROR(CheckExpr(item.get(), soft));
        }
        return OkStatus();
      case Expr::Kind::kDict:
        for (const auto& [key, value] : static_cast<const DictExpr*>(expr)->items) {
          WICK_RETURN_IF_ERROR(CheckExpr(key.get(), soft));
          WICK_RETURN_IF_ERROR(CheckExpr(value.get(), soft));
        }
        return OkStatus();
      case Expr::Kind::kAttr:
        return CheckExpr(static_cast<const AttrExpr*>(expr)->object.get(), soft);
      case Expr::Kind::kItem: {
        const auto* e = static_cast<const ItemExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->object.get(), soft));
        return CheckExpr(e->index.get(), soft);
      }
      case Expr::Kind::kSlice: {
        const auto* e = static_cast<const SliceExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->start.get(), soft));
        WICK_RETURN_IF_ERROR(CheckExpr(e->stop.get(), soft));
        return CheckExpr(e->step.get(), soft);
      }
      case Expr::Kind::kCall: {
        const auto* e = static_cast<const CallExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->callee.get(), soft));
        return CheckArgs(e->args, soft);
      }
      case Expr::Kind::kFilter: {
        const auto* e = static_cast<const FilterExpr*>(expr);
        if (!soft && !IsKnownFilter(e->name)) {
          return SyntaxError(e->line, e->column, fmt::format("no filter named '{}'", e->name));
        }
        WICK_RETURN_IF_ERROR(CheckExpr(e->input.get(), soft));
        return CheckArgs(e->args, soft);
      }
      case Expr::Kind::kTest: {
        const auto* e = static_cast<const TestExpr*>(expr);
        if (!soft && !IsKnownTest(e->name)) {
          return SyntaxError(e->line, e->column, fmt::format("no test named '{}'", e->name));
        }
        WICK_RETURN_IF_ERROR(CheckExpr(e->input.get(), soft));
        return CheckArgs(e->args, soft);
      }
      case Expr::Kind::kUnary:
        return CheckExpr(static_cast<const UnaryExpr*>(expr)->operand.get(), soft);
      case Expr::Kind::kBinary: {
        const auto* e = static_cast<const BinaryExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->left.get(), soft));
        return CheckExpr(e->right.get(), soft);
      }
      case Expr::Kind::kConcat:
        for (const ExprPtr& part : static_cast<const ConcatExpr*>(expr)->parts) {
          WICK_RETURN_IF_ERROR(CheckExpr(part.get(), soft));
        }
        return OkStatus();
      case Expr::Kind::kCompare: {
        const auto* e = static_cast<const CompareExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->first.get(), soft));
        for (const auto& [op, operand] : e->rest)
          WICK_RETURN_IF_ERROR(CheckExpr(operand.get(), soft));
        return OkStatus();
      }
      case Expr::Kind::kCond: {
        const auto* e = static_cast<const CondExpr*>(expr);
        WICK_RETURN_IF_ERROR(CheckExpr(e->test.get(), true));
        WICK_RETURN_IF_ERROR(CheckExpr(e->then.get(), true));
        return CheckExpr(e->otherwise.get(), true);
      }
      default:
        return OkStatus();
    }
  }
};

}  // namespace

Result<Body> ParseTemplate(std::string_view source) {
  WICK_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source));
  Parser parser(std::move(tokens));
  WICK_ASSIGN_OR_RETURN(Body body, parser.ParseAll());
  WICK_RETURN_IF_ERROR(NameChecker().Check(body, /*soft=*/false));
  return body;
}

Result<Body> Parser::ParseAll() {
  WICK_ASSIGN_OR_RETURN(Body body, Subparse({}));
  if (Current().kind != TokenKind::kEof) return Unexpected(Current());
  return body;
}

const Token& Parser::Peek(size_t ahead) const {
  return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
}

bool Parser::AtName(std::string_view name) const {
  return Current().kind == TokenKind::kName && Current().text == name;
}

bool Parser::AtOperator(std::string_view op) const {
  return Current().kind == TokenKind::kOperator && Current().text == op;
}

bool Parser::SkipName(std::string_view name) {
  if (!AtName(name)) return false;
  Advance();
  return true;
}

bool Parser::SkipOperator(std::string_view op) {
  if (!AtOperator(op)) return false;
  Advance();
  return true;
}

Status Parser::ExpectOperator(std::string_view op) {
  if (!SkipOperator(op)) {
    return Fail(Current(), fmt::format("expected '{}', got {}", op, Describe(Current())));
  }
  return OkStatus();
}

Status Parser::ExpectBlockEnd() {
  if (Current().kind != TokenKind::kBlockEnd) {
    return Fail(Current(),
                fmt::format("expected end of statement block, got {}", Describe(Current())));
  }
  Advance();
  return OkStatus();
}

Result<std::string> Parser::ExpectName() {
  if (Current().kind != TokenKind::kName) {
    return Fail(Current(), fmt::format("expected a name, got {}", Describe(Current())));
  }
  std::string name = Current().text;
  Advance();
  return name;
}

Error Parser::Fail(const Token& at, std::string_view message) const {
  return SyntaxError(at.line, at.column, message);
}

Error Parser::Unexpected(const Token& at) const {
  return Fail(at, fmt::format("unexpected {}", Describe(at)));
}

Status Parser::CheckNesting() const {
  if (nesting_ > kMaxNesting || nesting_ + chain_links_ > kMaxDepth) {
    return Fail(Current(), fmt::format("template nests deeper than {} levels", kMaxNesting));
  }
  return OkStatus();
}

// Template text, {{ }} and statements up to one of `end_tags`, where it stops with the tag
// name as the current token. At the top level (no end tags) it stops at the end.
Result<Body> Parser::Subparse(std::initializer_list<std::string_view> end_tags) {
  NestingGuard guard(this);
  WICK_RETURN_IF_ERROR(CheckNesting());
  if (end_tags.size() > 0) open_blocks_.push_back(JoinTags(end_tags));
  Result<Body> body = SubparseBody(end_tags);
  if (end_tags.size() > 0) open_blocks_.pop_back();
  return body;
}

Result<Body> Parser::SubparseBody(std::initializer_list<std::string_view> end_tags) {
  Body body;
  while (Current().kind != TokenKind::kEof) {
    const Token& token = Current();
    switch (token.kind) {
      case TokenKind::kData:
        body.push_back(std::make_unique<TextStmt>(token.line, token.text));
        Advance();
        break;
      case TokenKind::kVariableBegin: {
        const int line = token.line;
        Advance();
        WICK_ASSIGN_OR_RETURN(ExprPtr expr, ParseTuple(true, "", false));
        if (Current().kind != TokenKind::kVariableEnd) {
          return Fail(Current(),
                      fmt::format("expected end of print statement, got {}", Describe(Current())));
        }
        Advance();
        body.push_back(std::make_unique<OutputStmt>(line, std::move(expr)));
        break;
      }
      case TokenKind::kBlockBegin: {
        Advance();
        if (Current().kind == TokenKind::kName &&
            std::find(end_tags.begin(), end_tags.end(), Current().text) != end_tags.end()) {
          return body;
        }
        if (AtName("print")) {
          const int line = Current().line;
          Advance();
          for (bool first = true; Current().kind != TokenKind::kBlockEnd; first = false) {
            if (!first) WICK_RETURN_IF_ERROR(ExpectOperator(","));
            WICK_ASSIGN_OR_RETURN(ExprPtr expr, ParseExpression());
            body.push_back(std::make_unique<OutputStmt>(line, std::move(expr)));
          }
        } else {
          WICK_ASSIGN_OR_RETURN(StmtPtr stmt, ParseStatement());
          body.push_back(std::move(stmt));
        }
        WICK_RETURN_IF_ERROR(ExpectBlockEnd());
        break;
      }
      default:
        return Unexpected(token);
    }
  }
  return body;
}

// The body of a block statement: the open tag's `%}`, then statements up to an end tag.
Result<Body> Parser::ParseBlockBody(std::initializer_list<std::string_view> end_tags, int open_line,
                                    std::string_view open_tag) {
  SkipOperator(":");  // Jinja2 accepts `{% for x in y: %}` for Python's sake
  WICK_RETURN_IF_ERROR(ExpectBlockEnd());
  WICK_ASSIGN_OR_RETURN(Body body, Subparse(end_tags));
  if (Current().kind == TokenKind::kEof) {
    return Fail(Current(), fmt::format("unexpected end of template: '{}' from line {} is never "
                                       "closed (expected {})",
                                       open_tag, open_line, JoinTags(end_tags)));
  }
  return body;
}

Result<StmtPtr> Parser::ParseStatement() {
  const Token& token = Current();
  if (token.kind != TokenKind::kName) return Fail(token, "tag name expected");
  const std::string& tag = token.text;
  if (tag == "for") return ParseFor();
  if (tag == "if") return ParseIf();
  if (tag == "set") return ParseSet();
  if (tag == "macro") return ParseMacro();
  if (tag == "call") return ParseCallBlock();
  if (tag == "filter") return ParseFilterBlock();
  if (tag == "with") return ParseWith();
  if (tag == "generation") {
    // transformers' AssistantTracker extension: marks assistant text, renders as is.
    Advance();
    return ParseScope("endgeneration");
  }
  if (tag == "break" || tag == "continue") {
    if (loop_depth_ == 0) return Fail(token, fmt::format("'{}' outside loop", tag));
    const int line = token.line;
    const bool is_break = tag == "break";
    Advance();
    return StmtPtr(std::make_unique<LoopControlStmt>(
        line, is_break ? Stmt::Kind::kBreak : Stmt::Kind::kContinue));
  }
  if (tag == "block" || tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
      tag == "autoescape" || tag == "do") {
    return Fail(token, fmt::format("the '{}' tag is not supported", tag));
  }
  if (!open_blocks_.empty() && (tag.rfind("end", 0) == 0 || tag == "else" || tag == "elif")) {
    return Fail(token, fmt::format("unexpected '{}' (expected {})", tag, open_blocks_.back()));
  }
  return Fail(token, fmt::format("unknown tag '{}'", tag));
}

Result<StmtPtr> Parser::ParseFor() {
  auto stmt = std::make_unique<ForStmt>(Current().line);
  Advance();
  WICK_ASSIGN_OR_RETURN(stmt->target, ParseTarget(/*with_namespace=*/false, "in"));
  if (!SkipName("in")) {
    return Fail(Current(), fmt::format("expected 'in', got {}", Describe(Current())));
  }
  WICK_ASSIGN_OR_RETURN(stmt->iterable, ParseTuple(false, "recursive", false));
  if (SkipName("if")) {
    WICK_ASSIGN_OR_RETURN(stmt->filter, ParseExpression());
  }
  if (AtName("recursive")) return Fail(Current(), "recursive loops are not supported");
  ++loop_depth_;
  Result<Body> body = ParseBlockBody({"endfor", "else"}, stmt->line, "for");
  --loop_depth_;
  if (!body.ok()) return std::move(body).error();
  stmt->body = std::move(body).value();
  if (SkipName("else")) {
    WICK_ASSIGN_OR_RETURN(stmt->otherwise, ParseBlockBody({"endfor"}, stmt->line, "for"));
  }
  Advance();  // endfor
  return StmtPtr(std::move(stmt));
}

Result<StmtPtr> Parser::ParseIf() {
  auto stmt = std::make_unique<IfStmt>(Current().line);
  Advance();
  while (true) {
    WICK_ASSIGN_OR_RETURN(ExprPtr test, ParseTuple(false, "", false));
    WICK_ASSIGN_OR_RETURN(Body body, ParseBlockBody({"elif", "else", "endif"}, stmt->line, "if"));
    stmt->branches.emplace_back(std::move(test), std::move(body));
    if (SkipName("elif")) continue;
    if (SkipName("else")) {
      WICK_ASSIGN_OR_RETURN(stmt->otherwise, ParseBlockBody({"endif"}, stmt->line, "if"));
    }
    Advance();  // endif
    return StmtPtr(std::move(stmt));
  }
}

Result<StmtPtr> Parser::ParseSet() {
  const int line = Current().line;
  Advance();
  WICK_ASSIGN_OR_RETURN(Target target, ParseTarget(/*with_namespace=*/true, ""));
  if (SkipOperator("=")) {
    auto stmt = std::make_unique<SetStmt>(line);
    stmt->target = std::move(target);
    WICK_ASSIGN_OR_RETURN(stmt->value, ParseTuple(true, "", false));
    return StmtPtr(std::move(stmt));
  }
  auto stmt = std::make_unique<SetBlockStmt>(line);
  stmt->target = std::move(target);
  if (AtOperator("|")) {
    WICK_ASSIGN_OR_RETURN(stmt->filter, ParseFilter(nullptr, false));
  }
  WICK_ASSIGN_OR_RETURN(stmt->body, ParseBlockBody({"endset"}, line, "set"));
  Advance();  // endset
  return StmtPtr(std::move(stmt));
}

Status Parser::ParseSignature(MacroStmt* macro) {
  WICK_RETURN_IF_ERROR(ExpectOperator("("));
  while (!AtOperator(")")) {
    if (!macro->params.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    MacroParam param;
    WICK_ASSIGN_OR_RETURN(param.name, ExpectName());
    if (SkipOperator("=")) {
      WICK_ASSIGN_OR_RETURN(param.default_value, ParseExpression());
    } else if (!macro->params.empty() && macro->params.back().default_value) {
      return Fail(Current(), "non-default argument follows default argument");
    }
    macro->params.push_back(std::move(param));
  }
  Advance();  // )
  return OkStatus();
}

Result<StmtPtr> Parser::ParseMacro() {
  auto stmt = std::make_unique<MacroStmt>(Current().line);
  Advance();
  WICK_ASSIGN_OR_RETURN(stmt->name, ExpectName());
  WICK_RETURN_IF_ERROR(ParseSignature(stmt.get()));
  // A loop outside the macro does not make `break` valid inside it.
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  macros_.push_back(stmt.get());
  Result<Body> body = ParseBlockBody({"endmacro"}, stmt->line, "macro");
  macros_.pop_back();
  loop_depth_ = saved_loop_depth;
  if (!body.ok()) return std::move(body).error();
  stmt->body = std::move(body).value();
  Advance();  // endmacro
  return StmtPtr(std::move(stmt));
}

Result<StmtPtr> Parser::ParseCallBlock() {
  auto stmt = std::make_unique<CallBlockStmt>(Current().line);
  Advance();
  stmt->caller = std::make_unique<MacroStmt>(stmt->line);
  stmt->caller->name = "caller";
  if (AtOperator("(")) WICK_RETURN_IF_ERROR(ParseSignature(stmt->caller.get()));
  WICK_ASSIGN_OR_RETURN(stmt->call, ParseExpression());
  if (stmt->call->kind != Expr::Kind::kCall) return Fail(Current(), "expected call");
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  macros_.push_back(stmt->caller.get());
  Result<Body> body = ParseBlockBody({"endcall"}, stmt->line, "call");
  macros_.pop_back();
  loop_depth_ = saved_loop_depth;
  if (!body.ok()) return std::move(body).error();
  stmt->caller->body = std::move(body).value();
  Advance();  // endcall
  return StmtPtr(std::move(stmt));
}

Result<StmtPtr> Parser::ParseFilterBlock() {
  auto stmt = std::make_unique<FilterBlockStmt>(Current().line);
  Advance();
  WICK_ASSIGN_OR_RETURN(stmt->filter, ParseFilter(nullptr, /*start_inline=*/true));
  WICK_ASSIGN_OR_RETURN(stmt->body, ParseBlockBody({"endfilter"}, stmt->line, "filter"));
  Advance();  // endfilter
  return StmtPtr(std::move(stmt));
}

Result<StmtPtr> Parser::ParseWith() {
  const int line = Current().line;
  Advance();
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  while (Current().kind != TokenKind::kBlockEnd) {
    if (!assignments.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    WICK_ASSIGN_OR_RETURN(std::string name, ExpectName());
    WICK_RETURN_IF_ERROR(ExpectOperator("="));
    WICK_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    assignments.emplace_back(std::move(name), std::move(value));
  }
  WICK_ASSIGN_OR_RETURN(StmtPtr stmt, ParseScope("endwith"));
  static_cast<ScopeStmt*>(stmt.get())->assignments = std::move(assignments);
  stmt->line = line;
  return stmt;
}

Result<StmtPtr> Parser::ParseScope(std::string_view end_tag) {
  auto stmt = std::make_unique<ScopeStmt>(Current().line);
  const std::string_view open_tag = end_tag == "endwith" ? "with" : "generation";
  WICK_ASSIGN_OR_RETURN(stmt->body, ParseBlockBody({end_tag}, stmt->line, open_tag));
  Advance();  // the end tag
  return StmtPtr(std::move(stmt));
}

// `name`, `ns.attr` (for set) or several of them separated by commas, optionally in
// parentheses: `for key, value in ...`.
Result<Target> Parser::ParseTarget(bool with_namespace, std::string_view extra_end) {
  Target target;
  const bool parens = SkipOperator("(");
  while (true) {
    if (Current().kind == TokenKind::kBlockEnd || AtOperator(")") || AtOperator("=") ||
        AtOperator("|") || (!extra_end.empty() && AtName(extra_end))) {
      break;
    }
    const Token& token = Current();
    if (token.kind != TokenKind::kName || token.text == "true" || token.text == "false" ||
        token.text == "none" || token.text == "True" || token.text == "False" ||
        token.text == "None") {
      return Fail(token, fmt::format("can't assign to {}", Describe(token)));
    }
    Target::Item item{token.text, ""};
    Advance();
    if (with_namespace && AtOperator(".")) {
      Advance();
      WICK_ASSIGN_OR_RETURN(item.attr, ExpectName());
    }
    target.items.push_back(std::move(item));
    if (!SkipOperator(",")) break;
    target.tuple = true;
  }
  if (parens) WICK_RETURN_IF_ERROR(ExpectOperator(")"));
  if (target.items.empty()) {
    return Fail(Current(),
                fmt::format("expected an assignment target, got {}", Describe(Current())));
  }
  return target;
}

}  // namespace wick::jinja
