// The syntax tree of a parsed template: expressions and statements, each with the line it
// starts on so render errors can say where they happened.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace wick::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct ArgsExpr {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // *args
  ExprPtr star_kwargs;  // **kwargs
};

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kAnd, kOr };
enum class UnaryOp : uint8_t { kNeg, kPos, kNot };
enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr {
  enum class Kind : uint8_t {
    kLiteral,  // LiteralExpr
    kName,     // NameExpr
    kList,     // ListExpr (lists and tuples)
    kDict,     // DictExpr
    kAttr,     // AttrExpr: a.b
    kItem,     // ItemExpr: a[b]
    kSlice,    // SliceExpr, only as the index of an ItemExpr
    kCall,     // CallExpr
    kFilter,   // FilterExpr
    kTest,     // TestExpr
    kUnary,    // UnaryExpr
    kBinary,   // BinaryExpr
    kConcat,   // ConcatExpr: a ~ b ~ c
    kCompare,  // CompareExpr
    kCond,     // CondExpr: a if b else c
  };
  Expr(Kind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  Kind kind;
  int line;
};

struct LiteralExpr : Expr {
  explicit LiteralExpr(int l, Value v) : Expr(Kind::kLiteral, l), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(int l, std::string n) : Expr(Kind::kName, l), name(std::move(n)) {}
  std::string name;
};

struct ListExpr : Expr {
  ListExpr(int l, bool t) : Expr(Kind::kList, l), tuple(t) {}
  bool tuple;
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  explicit DictExpr(int l) : Expr(Kind::kDict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct AttrExpr : Expr {
  AttrExpr(int l, ExprPtr o, std::string n)
      : Expr(Kind::kAttr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct ItemExpr : Expr {
  ItemExpr(int l, ExprPtr o, ExprPtr i)
      : Expr(Kind::kItem, l), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object;
  ExprPtr index;
};

struct SliceExpr : Expr {
  explicit SliceExpr(int l) : Expr(Kind::kSlice, l) {}
  ExprPtr start;  // each may be null
  ExprPtr stop;
  ExprPtr step;
};

struct CallExpr : Expr {
  CallExpr(int l, ExprPtr c) : Expr(Kind::kCall, l), callee(std::move(c)) {}
  ExprPtr callee;
  ArgsExpr args;
};

struct FilterExpr : Expr {
  FilterExpr(int l, ExprPtr i, std::string n)
      : Expr(Kind::kFilter, l), input(std::move(i)), name(std::move(n)) {}
  ExprPtr input;  // null in `{% filter %}` blocks and `{% set x | f %}`: the body's text
  std::string name;
  int column = 0;  // of the name
  ArgsExpr args;
};

struct TestExpr : Expr {
  TestExpr(int l, ExprPtr i, std::string n)
      : Expr(Kind::kTest, l), input(std::move(i)), name(std::move(n)) {}
  ExprPtr input;
  std::string name;
  int column = 0;  // of the name
  ArgsExpr args;
};

struct UnaryExpr : Expr {
  UnaryExpr(int l, UnaryOp o, ExprPtr e) : Expr(Kind::kUnary, l), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  BinaryExpr(int l, BinaryOp o, ExprPtr a, ExprPtr b)
      : Expr(Kind::kBinary, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinaryOp op;
  ExprPtr left;
  ExprPtr right;
  // Jinja2 folds a constant base such as `-1` or `(0 - 2)` into a literal and emits Python
  // `(-1 ** y)`, which Python reads as -(1 ** y). True when that happens here: the base is
  // constant and the exponent is not.
  bool folded_base = false;
};

struct ConcatExpr : Expr {
  explicit ConcatExpr(int l) : Expr(Kind::kConcat, l) {}
  std::vector<ExprPtr> parts;
};

struct CompareExpr : Expr {
  CompareExpr(int l, ExprPtr f) : Expr(Kind::kCompare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;  // a < b < c: each compared to the last
};

struct CondExpr : Expr {
  CondExpr(int l, ExprPtr t, ExprPtr v)
      : Expr(Kind::kCond, l), test(std::move(t)), then(std::move(v)) {}
  ExprPtr test;
  ExprPtr then;
  ExprPtr otherwise;  // null: undefined when the test fails
};

// Where `set` and `for` store values: one name, `ns.attr`, or a tuple of those.
struct Target {
  struct Item {
    std::string name;
    std::string attr;  // non-empty for namespace attributes
  };
  std::vector<Item> items;
  bool tuple = false;
};

struct Stmt {
  enum class Kind : uint8_t {
    kText,         // TextStmt
    kOutput,       // OutputStmt: {{ expr }}
    kIf,           // IfStmt
    kFor,          // ForStmt
    kSet,          // SetStmt
    kSetBlock,     // SetBlockStmt
    kMacro,        // MacroStmt
    kCallBlock,    // CallBlockStmt
    kFilterBlock,  // FilterBlockStmt
    kScope,        // ScopeStmt: {% with %} and {% generation %}
    kBreak,
    kContinue,
  };
  Stmt(Kind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  Kind kind;
  int line;
};

struct TextStmt : Stmt {
  TextStmt(int l, std::string t) : Stmt(Kind::kText, l), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(int l, ExprPtr e) : Stmt(Kind::kOutput, l), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(int l) : Stmt(Kind::kIf, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, then each elif
  Body otherwise;
};

struct ForStmt : Stmt {
  explicit ForStmt(int l) : Stmt(Kind::kFor, l) {}
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body otherwise;  // runs unless an iteration reached the end of the body
};

struct SetStmt : Stmt {
  explicit SetStmt(int l) : Stmt(Kind::kSet, l) {}
  Target target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(int l) : Stmt(Kind::kSetBlock, l) {}
  Target target;
  ExprPtr filter;  // a FilterExpr chain applied to the body's text; may be null
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(int l) : Stmt(Kind::kMacro, l) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  // Jinja2 accepts extra arguments only when the body mentions varargs / kwargs / caller.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

struct CallBlockStmt : Stmt {
  explicit CallBlockStmt(int l) : Stmt(Kind::kCallBlock, l) {}
  std::unique_ptr<MacroStmt> caller;  // the body, as the macro `caller`
  ExprPtr call;                       // a CallExpr
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(int l) : Stmt(Kind::kFilterBlock, l) {}
  ExprPtr filter;  // a FilterExpr chain whose innermost input is null
  Body body;
};

struct ScopeStmt : Stmt {
  explicit ScopeStmt(int l) : Stmt(Kind::kScope, l) {}
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

struct LoopControlStmt : Stmt {
  LoopControlStmt(int l, Kind k) : Stmt(k, l) {}
};

}  // namespace wick::jinja
