// Expressions, in Jinja2's precedence from loosest to tightest: `x if c else y`, or, and,
// not, comparisons and `in`, + -, ~, * / // %, **, unary - +, then a primary with its
// postfix `.attr`, `[index]` and `(call)`, and finally `|filter` and `is test`.
#include <fmt/format.h>

#include "text/jinja/parser.h"

namespace wick::jinja {
namespace {

// Whether Jinja2's optimizer folds `expr` into a constant before the template runs.
bool IsConstant(const Expr& expr) {
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return true;
    case Expr::Kind::kUnary:
      return IsConstant(*static_cast<const UnaryExpr&>(expr).operand);
    case Expr::Kind::kBinary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      return IsConstant(*e.left) && IsConstant(*e.right);
    }
    default:
      return false;
  }
}

}  // namespace

bool Parser::AtTupleEnd(std::string_view extra_end) const {
  const TokenKind kind = Current().kind;
  if (kind == TokenKind::kVariableEnd || kind == TokenKind::kBlockEnd || AtOperator(")")) {
    return true;
  }
  return !extra_end.empty() && AtName(extra_end);
}

// Expressions separated by commas form a tuple (`{% set a = 1, 2 %}`).
Result<ExprPtr> Parser::ParseTuple(bool with_condexpr, std::string_view extra_end,
                                   bool explicit_parens) {
  const int line = Current().line;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    if (AtTupleEnd(extra_end)) break;
    WICK_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(with_condexpr));
    items.push_back(std::move(item));
    if (AtOperator(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items.front());
    if (!explicit_parens) {
      return Fail(Current(),
                  fmt::format("expected an expression, got {}", Current().kind == TokenKind::kEof
                                                                    ? "end of template"
                                                                    : "'" + Current().text + "'"));
    }
  }
  auto tuple = std::make_unique<ListExpr>(line, /*tuple=*/true);
  tuple->items = std::move(items);
  return ExprPtr(std::move(tuple));
}

Result<ExprPtr> Parser::ParseExpression(bool with_condexpr) {
  NestingGuard guard(this);
  WICK_RETURN_IF_ERROR(CheckNesting());
  return with_condexpr ? ParseCondExpr() : ParseOr();
}

Result<ExprPtr> Parser::ParseCondExpr() {
  int line = Current().line;
  WICK_ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
  ChainGuard chain(this);
  while (SkipName("if")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    WICK_ASSIGN_OR_RETURN(ExprPtr test, ParseOr());
    auto cond = std::make_unique<CondExpr>(line, std::move(test), std::move(expr));
    if (SkipName("else")) {
      WICK_ASSIGN_OR_RETURN(cond->otherwise, ParseExpression());
    }
    expr = std::move(cond);
    line = Current().line;
  }
  return expr;
}

Result<ExprPtr> Parser::ParseOr() {
  WICK_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  ChainGuard chain(this);
  while (AtName("or")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    const int line = Current().line;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    left = std::make_unique<BinaryExpr>(line, BinaryOp::kOr, std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::ParseAnd() {
  WICK_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  ChainGuard chain(this);
  while (AtName("and")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    const int line = Current().line;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    left = std::make_unique<BinaryExpr>(line, BinaryOp::kAnd, std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::ParseNot() {
  if (AtName("not")) {
    const int line = Current().line;
    Advance();
    NestingGuard guard(this);
    WICK_RETURN_IF_ERROR(CheckNesting());
    WICK_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
    return ExprPtr(std::make_unique<UnaryExpr>(line, UnaryOp::kNot, std::move(operand)));
  }
  return ParseCompare();
}

Result<ExprPtr> Parser::ParseCompare() {
  const int line = Current().line;
  WICK_ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
  std::unique_ptr<CompareExpr> compare;
  while (true) {
    CompareOp op;
    if (Current().kind == TokenKind::kOperator && Current().text == "==") {
      op = CompareOp::kEq;
    } else if (AtOperator("!=")) {
      op = CompareOp::kNe;
    } else if (AtOperator("<")) {
      op = CompareOp::kLt;
    } else if (AtOperator("<=")) {
      op = CompareOp::kLe;
    } else if (AtOperator(">")) {
      op = CompareOp::kGt;
    } else if (AtOperator(">=")) {
      op = CompareOp::kGe;
    } else if (AtName("in")) {
      op = CompareOp::kIn;
    } else if (AtName("not") && Peek(1).kind == TokenKind::kName && Peek(1).text == "in") {
      op = CompareOp::kNotIn;
      Advance();
    } else {
      break;
    }
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr operand, ParseMath1());
    if (!compare) compare = std::make_unique<CompareExpr>(line, std::move(first));
    compare->rest.emplace_back(op, std::move(operand));
  }
  if (!compare) return first;
  return ExprPtr(std::move(compare));
}

Result<ExprPtr> Parser::ParseMath1() {
  WICK_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  ChainGuard chain(this);
  while (AtOperator("+") || AtOperator("-")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    const BinaryOp op = Current().text == "+" ? BinaryOp::kAdd : BinaryOp::kSub;
    const int line = Current().line;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    left = std::make_unique<BinaryExpr>(line, op, std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::ParseConcat() {
  const int line = Current().line;
  WICK_ASSIGN_OR_RETURN(ExprPtr first, ParseMath2());
  if (!AtOperator("~")) return first;
  auto concat = std::make_unique<ConcatExpr>(line);
  concat->parts.push_back(std::move(first));
  while (SkipOperator("~")) {
    WICK_ASSIGN_OR_RETURN(ExprPtr part, ParseMath2());
    concat->parts.push_back(std::move(part));
  }
  return ExprPtr(std::move(concat));
}

Result<ExprPtr> Parser::ParseMath2() {
  WICK_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  ChainGuard chain(this);
  while (AtOperator("*") || AtOperator("/") || AtOperator("//") || AtOperator("%")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    const std::string& text = Current().text;
    const BinaryOp op = text == "*"    ? BinaryOp::kMul
                        : text == "/"  ? BinaryOp::kDiv
                        : text == "//" ? BinaryOp::kFloorDiv
                                       : BinaryOp::kMod;
    const int line = Current().line;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    left = std::make_unique<BinaryExpr>(line, op, std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::ParsePow() {
  WICK_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  ChainGuard chain(this);
  while (AtOperator("**")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    const int line = Current().line;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    const bool folded_base = IsConstant(*left) && !IsConstant(*right);
    auto pow =
        std::make_unique<BinaryExpr>(line, BinaryOp::kPow, std::move(left), std::move(right));
    pow->folded_base = folded_base;
    left = std::move(pow);
  }
  return left;
}

// `-x|abs` is abs(-x): the sign binds before filters, which apply to the whole unary.
Result<ExprPtr> Parser::ParseUnary(bool with_filter) {
  NestingGuard guard(this);
  WICK_RETURN_IF_ERROR(CheckNesting());
  const int line = Current().line;
  ExprPtr node;
  if (AtOperator("-") || AtOperator("+")) {
    const UnaryOp op = Current().text == "-" ? UnaryOp::kNeg : UnaryOp::kPos;
    Advance();
    WICK_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
    node = std::make_unique<UnaryExpr>(line, op, std::move(operand));
  } else {
    WICK_ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  WICK_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    WICK_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  return node;
}

Result<ExprPtr> Parser::ParsePrimary() {
  const Token& token = Current();
  const int line = token.line;
  switch (token.kind) {
    case TokenKind::kName: {
      const std::string name = token.text;
      Advance();
      if (name == "true" || name == "True")
        return ExprPtr(std::make_unique<LiteralExpr>(line, Value::Bool(true)));
      if (name == "false" || name == "False")
        return ExprPtr(std::make_unique<LiteralExpr>(line, Value::Bool(false)));
      if (name == "none" || name == "None")
        return ExprPtr(std::make_unique<LiteralExpr>(line, Value::None()));
      if (!macros_.empty()) {
        MacroStmt* macro = macros_.back();
        macro->uses_varargs |= name == "varargs";
        macro->uses_kwargs |= name == "kwargs";
        macro->uses_caller |= name == "caller";
      }
      return ExprPtr(std::make_unique<NameExpr>(line, name));
    }
    case TokenKind::kString: {
      // Adjacent string literals join, as in Python.
      std::string text;
      while (Current().kind == TokenKind::kString) {
        text += Current().text;
        Advance();
      }
      return ExprPtr(std::make_unique<LiteralExpr>(line, Value::String(std::move(text))));
    }
    case TokenKind::kInteger: {
      const int64_t value = token.int_value;
      Advance();
      return ExprPtr(std::make_unique<LiteralExpr>(line, Value::Int(value)));
    }
    case TokenKind::kFloat: {
      const double value = token.float_value;
      Advance();
      return ExprPtr(std::make_unique<LiteralExpr>(line, Value::Float(value)));
    }
    case TokenKind::kOperator:
      if (token.text == "(") {
        Advance();
        WICK_ASSIGN_OR_RETURN(ExprPtr inner, ParseTuple(true, "", /*explicit_parens=*/true));
        WICK_RETURN_IF_ERROR(ExpectOperator(")"));
        return inner;
      }
      if (token.text == "[") return ParseList();
      if (token.text == "{") return ParseDict();
      break;
    default:
      break;
  }
  return Unexpected(token);
}

Result<ExprPtr> Parser::ParseList() {
  auto list = std::make_unique<ListExpr>(Current().line, /*tuple=*/false);
  Advance();  // [
  while (!AtOperator("]")) {
    if (!list->items.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    if (AtOperator("]")) break;
    WICK_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression());
    list->items.push_back(std::move(item));
  }
  Advance();  // ]
  return ExprPtr(std::move(list));
}

Result<ExprPtr> Parser::ParseDict() {
  auto dict = std::make_unique<DictExpr>(Current().line);
  Advance();  // {
  while (!AtOperator("}")) {
    if (!dict->items.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    if (AtOperator("}")) break;
    WICK_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression());
    WICK_RETURN_IF_ERROR(ExpectOperator(":"));
    WICK_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    dict->items.emplace_back(std::move(key), std::move(value));
  }
  Advance();  // }
  return ExprPtr(std::move(dict));
}

Result<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  ChainGuard chain(this);
  while (AtOperator(".") || AtOperator("[") || AtOperator("(")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    if (AtOperator("(")) {
      auto call = std::make_unique<CallExpr>(Current().line, std::move(node));
      WICK_RETURN_IF_ERROR(ParseCallArgs(&call->args));
      node = std::move(call);
    } else {
      WICK_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
    }
  }
  return node;
}

Result<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
  ChainGuard chain(this);
  while (AtOperator("|") || AtName("is") || AtOperator("(")) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    if (AtOperator("|")) {
      WICK_ASSIGN_OR_RETURN(node, ParseFilter(std::move(node), false));
    } else if (AtName("is")) {
      WICK_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else {
      auto call = std::make_unique<CallExpr>(Current().line, std::move(node));
      WICK_RETURN_IF_ERROR(ParseCallArgs(&call->args));
      node = std::move(call);
    }
  }
  return node;
}

Result<ExprPtr> Parser::ParseSubscript(ExprPtr node) {
  const int line = Current().line;
  if (SkipOperator(".")) {
    const Token& token = Current();
    if (token.kind == TokenKind::kName) {
      std::string name = token.text;
      Advance();
      return ExprPtr(std::make_unique<AttrExpr>(line, std::move(node), std::move(name)));
    }
    if (token.kind != TokenKind::kInteger) return Fail(token, "expected name or number");
    auto index = std::make_unique<LiteralExpr>(line, Value::Int(token.int_value));
    Advance();
    return ExprPtr(std::make_unique<ItemExpr>(line, std::move(node), std::move(index)));
  }
  Advance();  // [
  std::vector<ExprPtr> args;
  while (!AtOperator("]")) {
    if (!args.empty()) WICK_RETURN_IF_ERROR(ExpectOperator(","));
    WICK_ASSIGN_OR_RETURN(ExprPtr arg, ParseSubscribed());
    args.push_back(std::move(arg));
  }
  Advance();  // ]
  if (args.empty()) return Fail(Current(), "expected subscript expression");
  ExprPtr index;
  if (args.size() == 1) {
    index = std::move(args.front());
  } else {
    auto tuple = std::make_unique<ListExpr>(line, /*tuple=*/true);
    tuple->items = std::move(args);
    index = std::move(tuple);
  }
  return ExprPtr(std::make_unique<ItemExpr>(line, std::move(node), std::move(index)));
}

// One subscript: an expression or a slice `start:stop:step` with any part left out.
Result<ExprPtr> Parser::ParseSubscribed() {
  const int line = Current().line;
  ExprPtr start;
  if (!AtOperator(":")) {
    WICK_ASSIGN_OR_RETURN(start, ParseExpression());
    if (!AtOperator(":")) return start;
  }
  Advance();  // :
  auto slice = std::make_unique<SliceExpr>(line);
  slice->start = std::move(start);
  auto at_part_end = [&] { return AtOperator("]") || AtOperator(",") || AtOperator(":"); };
  if (!at_part_end()) {
    WICK_ASSIGN_OR_RETURN(slice->stop, ParseExpression());
  }
  if (SkipOperator(":") && !AtOperator("]") && !AtOperator(",")) {
    WICK_ASSIGN_OR_RETURN(slice->step, ParseExpression());
  }
  return ExprPtr(std::move(slice));
}

Status Parser::ParseCallArgs(ArgsExpr* args) {
  const Token& open = Current();
  WICK_RETURN_IF_ERROR(ExpectOperator("("));
  const int open_line = open.line;
  const int open_column = open.column;
  auto invalid = [&] {
    return SyntaxError(open_line, open_column, "invalid syntax for function call expression");
  };
  bool require_comma = false;
  while (!AtOperator(")")) {
    if (require_comma) {
      WICK_RETURN_IF_ERROR(ExpectOperator(","));
      if (AtOperator(")")) break;  // trailing comma
    }
    if (AtOperator("*")) {
      if (args->star_args || args->star_kwargs) return invalid();
      Advance();
      WICK_ASSIGN_OR_RETURN(args->star_args, ParseExpression());
    } else if (AtOperator("**")) {
      if (args->star_kwargs) return invalid();
      Advance();
      WICK_ASSIGN_OR_RETURN(args->star_kwargs, ParseExpression());
    } else if (Current().kind == TokenKind::kName && Peek(1).kind == TokenKind::kOperator &&
               Peek(1).text == "=") {
      if (args->star_kwargs) return invalid();
      std::string key = Current().text;
      Advance();
      Advance();
      WICK_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      args->keyword.emplace_back(std::move(key), std::move(value));
    } else {
      if (args->star_args || args->star_kwargs || !args->keyword.empty()) return invalid();
      WICK_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      args->positional.push_back(std::move(value));
    }
    require_comma = true;
  }
  Advance();  // )
  return OkStatus();
}

Result<std::string> Parser::ParseDottedName() {
  WICK_ASSIGN_OR_RETURN(std::string name, ExpectName());
  while (SkipOperator(".")) {
    WICK_ASSIGN_OR_RETURN(std::string part, ExpectName());
    name += "." + part;
  }
  return name;
}

Result<ExprPtr> Parser::ParseFilter(ExprPtr node, bool start_inline) {
  ChainGuard chain(this);
  while (AtOperator("|") || start_inline) {
    WICK_RETURN_IF_ERROR(chain.Extend());
    if (!start_inline) Advance();
    start_inline = false;
    const Token& token = Current();
    const int line = token.line;
    const int column = token.column;
    WICK_ASSIGN_OR_RETURN(std::string name, ParseDottedName());
    auto filter = std::make_unique<FilterExpr>(line, std::move(node), std::move(name));
    filter->column = column;
    if (AtOperator("(")) WICK_RETURN_IF_ERROR(ParseCallArgs(&filter->args));
    node = std::move(filter);
  }
  return node;
}

Result<ExprPtr> Parser::ParseTest(ExprPtr node) {
  const int line = Current().line;
  Advance();  // is
  const bool negated = SkipName("not");
  const Token& token = Current();
  const int name_line = token.line;
  const int name_column = token.column;
  WICK_ASSIGN_OR_RETURN(std::string name, ParseDottedName());
  auto test = std::make_unique<TestExpr>(name_line, std::move(node), std::move(name));
  test->column = name_column;
  const Token& next = Current();
  const bool starts_argument =
      next.kind == TokenKind::kName || next.kind == TokenKind::kString ||
      next.kind == TokenKind::kInteger || next.kind == TokenKind::kFloat ||
      (next.kind == TokenKind::kOperator && (next.text == "[" || next.text == "{"));
  if (AtOperator("(")) {
    WICK_RETURN_IF_ERROR(ParseCallArgs(&test->args));
  } else if (starts_argument && !AtName("else") && !AtName("or") && !AtName("and")) {
    // `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
    if (AtName("is")) return Fail(Current(), "you cannot chain multiple tests with is");
    WICK_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
    WICK_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
    test->args.positional.push_back(std::move(arg));
  }
  if (!negated) return ExprPtr(std::move(test));
  return ExprPtr(std::make_unique<UnaryExpr>(line, UnaryOp::kNot, std::move(test)));
}

}  // namespace wick::jinja
