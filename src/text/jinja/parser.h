// Builds the syntax tree from the lexer's tokens with Jinja2's grammar and operator
// precedence (parser.cpp: statements, parser_expr.cpp: expressions). Unknown filters and
// tests are syntax errors here, as Jinja2 reports them when it compiles a template.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"

namespace wick::jinja {

// Errors are kInvalidArgument and start with "line L, column C: ".
Result<Body> ParseTemplate(std::string_view source);

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}
  Result<Body> ParseAll();

 private:
  // Counts nesting of blocks and expressions; past kMaxNesting the template is refused.
  class NestingGuard {
   public:
    explicit NestingGuard(Parser* parser) : parser_(parser) { ++parser_->nesting_; }
    ~NestingGuard() { --parser_->nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    Parser* parser_;
  };

  // Counts the links of a left-deep chain (`a + b + c`, `x|f|g`, `x.a.b`) that one call
  // builds in a loop: they deepen the tree without recursing, and nesting + chains is the
  // depth that the interpreter (and the tree's destructor) will recurse to.
  class ChainGuard {
   public:
    explicit ChainGuard(Parser* parser) : parser_(parser) {}
    ~ChainGuard() { parser_->chain_links_ -= links_; }
    ChainGuard(const ChainGuard&) = delete;
    ChainGuard& operator=(const ChainGuard&) = delete;
    Status Extend() {
      ++links_;
      ++parser_->chain_links_;
      return parser_->CheckNesting();
    }

   private:
    Parser* parser_;
    int links_ = 0;
  };

  // Token helpers.
  const Token& Current() const { return tokens_[pos_]; }
  const Token& Peek(size_t ahead) const;
  void Advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool AtName(std::string_view name) const;
  bool AtOperator(std::string_view op) const;
  bool SkipName(std::string_view name);
  bool SkipOperator(std::string_view op);
  Status ExpectOperator(std::string_view op);
  Status ExpectBlockEnd();
  Result<std::string> ExpectName();
  Error Fail(const Token& at, std::string_view message) const;
  Error Unexpected(const Token& at) const;
  Status CheckNesting() const;

  // Statements (parser.cpp).
  Result<Body> Subparse(std::initializer_list<std::string_view> end_tags);
  Result<Body> SubparseBody(std::initializer_list<std::string_view> end_tags);
  Result<Body> ParseBlockBody(std::initializer_list<std::string_view> end_tags, int open_line,
                              std::string_view open_tag);
  Result<StmtPtr> ParseStatement();
  Result<StmtPtr> ParseFor();
  Result<StmtPtr> ParseIf();
  Result<StmtPtr> ParseSet();
  Result<StmtPtr> ParseMacro();
  Result<StmtPtr> ParseCallBlock();
  Result<StmtPtr> ParseFilterBlock();
  Result<StmtPtr> ParseWith();
  Result<StmtPtr> ParseScope(std::string_view end_tag);
  Status ParseSignature(MacroStmt* macro);
  Result<Target> ParseTarget(bool with_namespace, std::string_view extra_end);

  // Expressions (parser_expr.cpp).
  Result<ExprPtr> ParseTuple(bool with_condexpr, std::string_view extra_end, bool explicit_parens);
  Result<ExprPtr> ParseExpression(bool with_condexpr = true);
  Result<ExprPtr> ParseCondExpr();
  Result<ExprPtr> ParseOr();
  Result<ExprPtr> ParseAnd();
  Result<ExprPtr> ParseNot();
  Result<ExprPtr> ParseCompare();
  Result<ExprPtr> ParseMath1();
  Result<ExprPtr> ParseConcat();
  Result<ExprPtr> ParseMath2();
  Result<ExprPtr> ParsePow();
  Result<ExprPtr> ParseUnary(bool with_filter);
  Result<ExprPtr> ParsePrimary();
  Result<ExprPtr> ParseList();
  Result<ExprPtr> ParseDict();
  Result<ExprPtr> ParsePostfix(ExprPtr node);
  Result<ExprPtr> ParseFilterExpr(ExprPtr node);
  Result<ExprPtr> ParseSubscript(ExprPtr node);
  Result<ExprPtr> ParseSubscribed();
  Status ParseCallArgs(ArgsExpr* args);
  // `|name(args)|name2...` applied to `node` (null for filter blocks); `start_inline` when
  // the first filter has no `|` in front of it.
  Result<ExprPtr> ParseFilter(ExprPtr node, bool start_inline);
  Result<ExprPtr> ParseTest(ExprPtr node);
  Result<std::string> ParseDottedName();
  bool AtTupleEnd(std::string_view extra_end) const;

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int chain_links_ = 0;
  // Loops and macros being parsed, to reject a stray `break` and to see which names a
  // macro body mentions.
  int loop_depth_ = 0;
  std::vector<MacroStmt*> macros_;
  // The end tags the innermost open block waits for, for "unexpected 'endif'" errors.
  std::vector<std::string> open_blocks_;
};

}  // namespace wick::jinja
