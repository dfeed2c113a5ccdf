// Unit tests of the Jinja2 interpreter. Every expected text in the tables is what Python's
// Jinja2 3.1 renders for the same template and context, configured as transformers does it
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "text/jinja/template.h"

namespace wick::jinja {
namespace {

constexpr std::string_view kContext =
    R"({"messages": [{"role": "system", "content": "  Be brief.  "}, {"role": "user", "content": "Héllo, wörld!"}, {"role": "assistant", "content": "Hi", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1, 2]}}}]}], "d": {"b": 2, "a": 1, "items": [1]}, "n": 7, "f": 2.5, "s": "Hello World", "e": "", "l": [3, 1, 2], "t": true, "nothing": null})";

const RenderOptions kOptions{.now = "2026-01-15T10:30:00"};

nlohmann::ordered_json Context() {
  return nlohmann::ordered_json::parse(kContext);
}

// The rendered text, or "parse error: ..." / "error: ..." so that a failing expectation shows
// what went wrong.
std::string Render(std::string_view source,
                   const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  Result<Template> parsed = Template::Parse(source);
  if (!parsed.ok()) return "parse error: " + parsed.error().message();
  Result<std::string> rendered = parsed->Render(context, kOptions);
  if (!rendered.ok()) return "error: " + rendered.error().message();
  return *rendered;
}

struct Case {
  const char* name;
  const char* source;
  const char* expected;
};

constexpr Case kExpressionsCases[] = {
    {"arithmetic",
     R"({{ 1 + 2 * 3 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** -1 }})",
     R"(19 3 -4 2 3.5 2.0 0.5)"},
    {"float_printing",
     R"({{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 123456789012345678.0 }} {{ 1e16 }} {{ 0.0001 }})",
     R"(1.0 0.30000000000000004 1e+20 1.5e-07 1.2345678901234568e+17 1e+16 0.0001)"},
    {"python_printing",
     R"({{ true }} {{ nothing }} {{ [1, 'a', none, false, 1.5] }} {{ (1,) }} {{ ('a', 2) }} {{ d }} {{ "it's" }} {{ ['it\'s', 'say "hi"'] }})",
     R"(True None [1, 'a', None, False, 1.5] (1,) ('a', 2) {'b': 2, 'a': 1, 'items': [1]} it's ["it's", 'say "hi"'])"},
    {"string_ops",
     R"({{ 'ab' ~ 1 ~ none ~ undefined_name }} {{ 'ab' * 2 }} {{ 'x' + 'y' }} {{ 'a' 'b' }})",
     R"(ab1None abab xy ab)"},
    {"comparisons",
     R"({{ 1 == 1.0 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1] == (1,) }} {{ 'a' < 'b' }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }})",
     R"(True True False False True True)"},
    {"membership",
     R"({{ 'ell' in s }} {{ 2 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ 'x' in undefined_name }})",
     R"(True True True True False)"},
    {"logic_returns_operands", R"({{ 0 or 'x' }} {{ 'a' and 'b' }} {{ e or 'empty' }} {{ not l }})",
     R"(x b empty False)"},
    {"conditional",
     R"({{ 'y' if t else 'n' }} [{{ 'y' if not t }}] {{ 'a' if false else 'b' if true else 'c' }})",
     R"(y [] b)"},
    {"precedence",
     R"({{ -1|abs }} {{ not nothing is none }} {{ 2 * 3 ~ 4 }} {{ 1 + 1 == 2 and not false }})",
     R"(1 False 64 True)"},
    {"indexing",
     R"({{ l[0] }} {{ l[-1] }} {{ messages[1].role }} {{ messages[1]['content'] }} {{ d.a }} {{ d['items'] }} {{ l.0 }})",
     R"(3 2 user Héllo, wörld! 1 [1] 3)"},
    {"slicing",
     R"({{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ s[::2] }} {{ 'Héllo'[1:3] }} {{ (1, 2, 3)[1:] }} {{ s[100:] }}|)",
     R"([1, 2] [3, 1] [2, 1, 3] HloWrd él (2, 3) |)"},
    {"literals",
     R"({{ [1, 2,] }} {{ {'k': [1, {'x': none}]} }} {{ True }} {{ None }} {{ 0x1F }} {{ 1_000 }} {{ 'a\tb\u00e9\x41' }})",
     "[1, 2] {'k': [1, {'x': None}]} True None 31 1000 a\tbéA"},
    {"undefined",
     R"([{{ missing }}] {{ missing is defined }} {{ missing is undefined }} {{ missing|default('dflt') }} {{ missing|length }} {% for x in missing %}x{% else %}empty{% endfor %})",
     R"([] False True dflt 0 empty)"},
    {"missing_attribute",
     R"([{{ d.nope }}] {{ d.nope is defined }} [{{ messages[9] }}] {{ s.nope is defined }})",
     R"([] False [] False)"},
};

constexpr Case kFiltersCases[] = {
    {"text",
     R"({{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ s|upper }}|{{ s|lower }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'hello world-foo(bar'|title }})",
     R"(x|a|HELLO WORLD|hello world|Hello world|Hello World-Foo(Bar)"},
    {"length_counts_code_points",
     R"({{ 'Héllo'|length }} {{ l|count }} {{ d|length }} {{ 'a b  c'|wordcount }})", R"(5 3 3 3)"},
    {"tojson",
     R"({{ messages[2].tool_calls[0].function.arguments|tojson }} {{ 'é"\n'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }} {{ d|tojson(sort_keys=true) }} {{ [1, 2.0, none, true]|tojson }})",
     R"({"b": 1, "a": [1, 2]} "é\"\n" "\u00e9" {"a": 1, "b": 2, "items": [1]} [1, 2.0, null, true])"},
    {"tojson_indent", R"({{ {'a': [1, {'b': []}], 'c': {}}|tojson(indent=2) }})",
     "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {}\n}"},
    {"tojson_separators", R"({{ {'a': [1, 2]}|tojson(separators=(',', ':')) }})", R"({"a":[1,2]})"},
    {"join_and_default",
     R"({{ l|join(', ') }} {{ messages|join('/', attribute='role') }} {{ ''|default('x') }} {{ ''|default('x', true) }} {{ nothing|default('x') }})",
     R"(3, 1, 2 system/user/assistant  x None)"},
    {"items_first_last",
     R"({% for k, v in d|items %}{{ k }}={{ v }};{% endfor %} {{ l|first }} {{ l|last }} {{ 'abc'|first }} [{{ []|first }}])",
     R"(b=2;a=1;items=[1]; 3 2 a [])"},
    {"replace",
     R"({{ 'hello'|replace('l', 'L') }} {{ 'hello'|replace('l', 'L', 1) }} {{ 'ab'|replace('', '-') }})",
     R"(heLLo heLlo -a-b-)"},
    {"select_reject",
     R"({{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ messages|rejectattr('tool_calls', 'defined')|map(attribute='role')|list }} {{ [0, 1, 2, 3]|select('odd')|list }} {{ [0, 1, '']|select|list }})",
     R"(['Héllo, wörld!'] ['system', 'user'] [1, 3] [1])"},
    {"map",
     R"({{ l|map('string')|join }} {{ messages|map(attribute='missing', default='-')|list }} {{ ['a', 'b']|map('upper')|list }})",
     R"(312 ['-', '-', '-'] ['A', 'B'])"},
    {"generators_are_truthy",
     R"({{ 'yes' if [1]|select('even') else 'no' }} {{ [1]|select('even')|list|length }})",
     R"(yes 0)"},
    {"conversions",
     R"({{ '42'|int }} {{ '4.5'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '0x1f'|int(base=16) }} {{ '3.5'|float }} {{ 3|float }} {{ -3|abs }} {{ 7|string ~ 1 }})",
     R"(42 4 0 7 31 3.5 3.0 3 71)"},
    {"round",
     R"({{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 5|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }})",
     R"(2.0 4.0 2.57 5 3.0 2.0)"},
    {"sorting",
     R"({{ l|sort }} {{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ l|sort(reverse=true) }} {{ messages|sort(attribute='role')|map(attribute='role')|join(',') }} {{ d|dictsort }} {{ {'x': 2, 'y': 1, 'z': 3}|dictsort(by='value', reverse=true) }})",
     R"([1, 2, 3] ['A', 'a', 'b'] ['A', 'a', 'b'] [3, 2, 1] assistant,system,user [('a', 1), ('b', 2), ('items', [1])] [('z', 3), ('x', 2), ('y', 1)])"},
    {"unique_reverse",
     R"({{ ['b', 'A', 'a', 'B', 'c']|unique|list }} {{ 'abc'|reverse }} {{ l|reverse|list }} {{ [1, 1.0, true, 2]|unique|list }})",
     R"(['b', 'A', 'c'] cba [2, 1, 3] [1, 2])"},
    {"sum_min_max",
     R"({{ l|sum }} {{ l|sum(start=10) }} {{ l|max }} {{ l|min }} {{ ['b', 'A']|min }} {{ messages|max(attribute='role')|attr('role') }})",
     R"(6 16 3 1 A )"},
    {"indent",
     R"({{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent('> ', blank=true) }}|{{ 'a\n'|indent }}|)",
     "a\n  b\n\n  c|  a\n  b|a\n> \n> b|a\n|"},
    {"truncate_center_wordcount",
     R"({{ 'foo bar baz qux'|truncate(9) }} {{ 'foo bar baz qux'|truncate(9, true) }} {{ 'foo bar baz qux'|truncate(11) }} [{{ 'ab'|center(6) }}])",
     R"(foo... foo ba... foo bar baz qux [  ab  ])"},
    {"batch_slice",
     R"({{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ [1, 2, 3, 4, 5]|slice(2)|list }})",
     R"([[1, 2], [3, 4], [5]] [[1, 2], [3, 0]] [[1, 2, 3], [4, 5]])"},
    {"format_escape",
     R"({{ '%s-%03d %.2f %5s|%-4s|'|format('a', 7, 3.14159, 'r', 'l') }} {{ '<a href="x">'|e }} {{ '%(a)s' % {'a': 1} }})",
     R"(a-007 3.14     r|l   | &lt;a href=&#34;x&#34;&gt; 1)"},
    {"markup_concat_escapes",
     R"({{ '<b>'|safe + '<i>' }} {{ '<i>' + '<b>'|safe }} {{ ('<b>'|safe).upper() }} {{ '<b>'|safe ~ '<i>' }})",
     R"(<b>&lt;i&gt; &lt;i&gt;<b> <B> <b><i>)"},
};

constexpr Case kTestsCases[] = {
    {"types",
     R"({{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 's' is string }} {{ d is mapping }} {{ nothing is none }})",
     R"(True True True False True True True True True)"},
    {"containers",
     R"({{ 's' is iterable }} {{ d is iterable }} {{ 3 is iterable }} {{ missing is iterable }} {{ 's' is sequence }} {{ d is sequence }} {{ 3 is sequence }})",
     R"(True True False True True True False)"},
    {"numbers",
     R"({{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }})",
     R"(True True True False)"},
    {"comparisons",
     R"({{ 1 is equalto 1 }} {{ 1 is eq 2 }} {{ 2 is gt 1 }} {{ 'a' is lt 'b' }} {{ 1 is in [1, 2] }} {{ nothing is sameas none }} {{ 1 is ne 2 }})",
     R"(True False True True True True True)"},
    {"negated_and_case",
     R"({{ nothing is not none }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'x' is not defined }})",
     R"(False True True False)"},
};

constexpr Case kMethodsCases[] = {
    {"str",
     R"({{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'a\nb\r\nc'.splitlines() }})",
     R"(a b|axx|xxa|['a', 'b', '', 'c']|['a', 'b']|['a b', 'c']|['a', 'b', 'c'])"},
    {"str_search",
     R"({{ s.startswith('He') }} {{ s.endswith(('x', 'ld')) }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('z') }} {{ s.count('l') }} {{ 'Héllo'.find('l') }})",
     R"(True True 4 7 -1 3 2)"},
    {"str_case_and_format",
     R"({{ 'hELLO wORLD'.title() }} {{ "they're".title() }} {{ s.upper() }} {{ s.lower() }} {{ s.replace('l', 'L', 2) }} {{ '{}-{:>4}-{x}'.format(1, 'ab', x=2.5) }} {{ '-'.join(['a', 'b']) }} {{ '7'.zfill(3) }})",
     R"(Hello World They'Re HELLO WORLD hello world HeLLo World 1-  ab-2.5 a-b 007)"},
    {"dict",
     R"({{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.items() }})",
     R"(1 None 5 ['b', 'a', 'items'] [2, 1, [1]] [('b', 2), ('a', 1), ('items', [1])] dict_items([('b', 2), ('a', 1), ('items', [1])]))"},
    {"dict_method_beats_key", R"({{ d['items'] }} {{ d.items is defined }} {{ d.pop is defined }})",
     R"([1] True False)"},
};

constexpr Case kStatementsCases[] = {
    {"set_and_tuple_unpacking",
     R"({% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %})",
     R"(12(1, 2)b=2;a=1;items=[1];)"},
    {"loop_variables",
     R"({% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %})",
     R"(1032TrueFalse3[|b]2121FalseFalse3[a|c]3210FalseTrue3[b|])"},
    {"loop_cycle_changed",
     R"({% for x in [1, 1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(x) }};{% endfor %})",
     R"(aTrue;bFalse;aTrue;)"},
    {"loop_filter",
     R"({% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }} {{ m.role }};{% endfor %})",
     R"(1/2 user;2/2 assistant;)"},
    {"loop_else_break_continue",
     R"({% for x in [] %}x{% else %}none{% endfor %} {% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %})",
     R"(none 13)"},
    {"loop_scope",
     R"({% set x = 0 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }})",
     R"([0][0]0)"},
    {"if_does_not_scope", R"({% if true %}{% set y = 3 %}{% endif %}{{ y }})", R"(3)"},
    {"namespace",
     R"({% set ns = namespace(total=0, seen=[]) %}{% for x in l %}{% set ns.total = ns.total + x %}{% set ns.seen = ns.seen + [x] %}{% endfor %}{{ ns.total }} {{ ns.seen }} {{ ns }})",
     R"(6 [3, 1, 2] <Namespace {'total': 6, 'seen': [3, 1, 2]}>)"},
    {"set_block",
     R"({% set body %}  a {{ n }} {% endset %}[{{ body }}]{% set loud | upper | trim %} quiet {% endset %}[{{ loud }}])",
     R"([  a 7 ][QUIET])"},
    {"macros",
     R"({% macro greet(name, punct='!', sep=name ~ ':') %}{{ sep }}{{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }} {{ greet }} {{ greet.name }})",
     R"(a:a! b:b? c:c. <Macro 'greet'> greet)"},
    {"macro_varargs_kwargs",
     R"({% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }})",
     R"(1(2, 3){'k': 'v'})"},
    {"macro_recursion",
     R"({% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1)|int) }}{% endif %}{% endmacro %}{{ fact(5) }})",
     R"(120)"},
    {"call_block",
     R"({% macro wrap(tag) %}<{{ tag }}>{{ caller(tag) }}</{{ tag }}>{% endmacro %}{% call(t) wrap('b') %}in {{ t }}{% endcall %})",
     R"(<b>in b</b>)"},
    {"filter_block_and_with",
     R"({% filter upper %}abc {{ 'x' }}{% endfilter %} {% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }})",
     R"(ABC X 3False)"},
    {"raw", R"({% raw %}{{ not evaluated }}{% endraw %})", R"({{ not evaluated }})"},
    {"comments", R"(a{# a comment #}b{#- trimmed -#}  c)", R"(abc)"},
};

constexpr Case kWhitespaceCases[] = {
    {"trim_blocks_drops_newline_after_tag", "{% if true %}\nyes\n{% endif %}\nafter", "yes\nafter"},
    {"lstrip_blocks_drops_indent_before_tag", "  {% if true %}\n  x\n  {% endif %}\nend",
     "  x\nend"},
    {"variables_keep_their_indent", "  {{ 'v' }}\n  {{ 'w' }}", "  v\n  w"},
    {"minus_strips_all_whitespace", "a  \n  {%- if true -%}  \n  b  {%- endif %}\n c", R"(ab c)"},
    {"plus_keeps_whitespace", "x {%+ if true %}y{% endif +%}\nz", "x y\nz"},
    {"comments_are_trimmed_like_blocks", "a\n  {# note #}\nb{#- tight -#}  c", "a\nbc"},
    {"text_before_tag_blocks_lstrip", "a {% if true %}b{% endif %}\n", R"(a b)"},
    {"variable_minus_strips_newlines", "a\n\n{{- 'b' -}}\n\nc", R"(abc)"},
    {"raw_block", "{% raw %}\n  {{ x }}\n{% endraw %}\nz", "\n  {{ x }}\nz"},
    {"crlf_is_normalized", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", "a\nb\nc"},
    {"one_trailing_newline_is_dropped", "x\n\n", "x\n"},
    {"unicode_space_is_whitespace", R"(　{% if true %}x{% endif %})", R"(x)"},
    {"nested_blocks",
     "{% for i in [1, 2] %}\n    {% if i > 1 %}\n        {{ i }}\n    {% endif %}\n{% endfor %}",
     "        2\n"},
};

class JinjaCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(JinjaCaseTest, RendersAsJinja2) {
  EXPECT_EQ(Render(GetParam().source, Context()), GetParam().expected) << GetParam().source;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Expressions, JinjaCaseTest, ::testing::ValuesIn(kExpressionsCases),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Filters, JinjaCaseTest, ::testing::ValuesIn(kFiltersCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Tests, JinjaCaseTest, ::testing::ValuesIn(kTestsCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Methods, JinjaCaseTest, ::testing::ValuesIn(kMethodsCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Statements, JinjaCaseTest, ::testing::ValuesIn(kStatementsCases),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Whitespace, JinjaCaseTest, ::testing::ValuesIn(kWhitespaceCases),
                         CaseName);

TEST(JinjaTest, RaiseExceptionGivesTheMessageExactly) {
  Result<Template> parsed = Template::Parse(
      "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
      "{% endif %}");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  Result<std::string> rendered = parsed->Render(Context(), kOptions);
  ASSERT_FALSE(rendered.ok());
  EXPECT_TRUE(IsRaisedError(rendered.error()));
  EXPECT_EQ(rendered.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(rendered.error().message(), "System role not supported");
}

TEST(JinjaTest, RenderErrorsNameTheLineAndAreNotRaisedErrors) {
  Result<Template> parsed = Template::Parse("{% for x in l %}\n{{ x + 'a' }}{% endfor %}");
  ASSERT_TRUE(parsed.ok());
  Result<std::string> rendered = parsed->Render(Context(), kOptions);
  ASSERT_FALSE(rendered.ok());
  EXPECT_FALSE(IsRaisedError(rendered.error()));
  EXPECT_EQ(rendered.error().message(),
            "line 2: unsupported operand type(s) for +: 'int' and 'str'");
}

TEST(JinjaTest, UsingUndefinedValuesFailsAsInJinja2) {
  // Printing, testing and iterating an undefined value is fine; looking inside it is not.
  EXPECT_EQ(Render("{{ missing.attr }}"), "error: line 1: 'missing' is undefined");
  EXPECT_EQ(Render("{{ missing.attr is defined }}"), "error: line 1: 'missing' is undefined");
  EXPECT_EQ(Render("{{ missing + 1 }}"), "error: line 1: 'missing' is undefined");
  EXPECT_EQ(Render("{{ missing() }}"), "error: line 1: 'missing' is undefined");
  EXPECT_EQ(Render("{{ d.nope.deeper }}", Context()),
            "error: line 1: 'dict object' has no attribute 'nope'");
  EXPECT_EQ(Render("{{ l[7].x }}", Context()), "error: line 1: list object has no element 7");
}

TEST(JinjaTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(Render("a\n{{ x + }}"),
            "parse error: line 2, column 8: unexpected end of print statement");
  EXPECT_EQ(Render("{% for x in y %}{% endif %}"),
            "parse error: line 1, column 20: unexpected 'endif' (expected 'endfor' or 'else')");
  EXPECT_EQ(Render("{% endfor %}"), "parse error: line 1, column 4: unknown tag 'endfor'");
  EXPECT_EQ(Render("{{ (1 }}"), "parse error: line 1, column 7: unexpected '}', expected ')'");
  EXPECT_EQ(Render("{% break %}"), "parse error: line 1, column 4: 'break' outside loop");
  EXPECT_EQ(Render("{% include 'x' %}"),
            "parse error: line 1, column 4: the 'include' tag is not supported");
}

TEST(JinjaTest, UnterminatedTagsAreErrors) {
  for (const char* source : {"{{ x", "{% if x", "{% if x %}", "{# open", "{{ 'open }}", "{% raw %}",
                             "{% for x in y %}{% else %}", "{% macro m( %}", "{{ [1, 2 }}",
                             "{% set x %}", "{{ x|", "{{ x is }}"}) {
    Result<Template> parsed = Template::Parse(source);
    ASSERT_FALSE(parsed.ok()) << source;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument) << source;
    EXPECT_EQ(parsed.error().message().rfind("line 1, column ", 0), 0u)
        << source << ": " << parsed.error().message();
  }
}

TEST(JinjaTest, UnknownFiltersFailAtParseUnlessInsideAnIf) {
  // As Jinja2 compiles templates: an unknown filter in an `if` branch only fails when it runs.
  EXPECT_EQ(Render("{{ x|nope }}"), "parse error: line 1, column 6: no filter named 'nope'");
  EXPECT_EQ(Render("{{ x is nope }}"), "parse error: line 1, column 9: no test named 'nope'");
  EXPECT_EQ(Render("{% if false %}{{ x|nope }}{% endif %}ok"), "ok");
  EXPECT_EQ(Render("{{ 'a' if true else x|nope }}"), "a");
  EXPECT_EQ(Render("{% if true %}{{ 'x'|nope }}{% endif %}"),
            "error: line 1: no filter named 'nope'");
  EXPECT_EQ(Render("{% if true %}{% for i in l %}{{ i|nope }}{% endfor %}{% endif %}"),
            "parse error: line 1, column 35: no filter named 'nope'");
}

TEST(JinjaTest, SandboxRefusesChangingValues) {
  EXPECT_EQ(Render("{{ l.append(4) }}", Context()),
            "error: line 1: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(Render("{{ d.pop('a') }}", Context()),
            "error: line 1: access to attribute 'pop' of 'dict' object is unsafe.");
  EXPECT_EQ(Render("{% set d.a = 1 %}", Context()),
            "error: line 1: cannot assign attribute on non-namespace object");
}

TEST(JinjaTest, MacroArgumentErrors) {
  EXPECT_EQ(Render("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"),
            "error: line 1: macro 'm' takes not more than 1 argument(s)");
  EXPECT_EQ(Render("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}"),
            "error: line 1: macro 'm' takes no keyword argument 'b'");
  EXPECT_EQ(Render("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}"), "[]");
}

TEST(JinjaTest, StrftimeNowFormatsTheGivenTime) {
  EXPECT_EQ(Render("{{ strftime_now('%d %b %Y %H:%M:%S %A %j %I%p %y-%m-%e') }}"),
            "15 Jan 2026 10:30:00 Thursday 015 10AM 26-01-15");
  Result<Template> year = Template::Parse("{{ strftime_now('%Y') }}");
  ASSERT_TRUE(year.ok());
  Result<std::string> now = year->Render(nlohmann::ordered_json::object());
  ASSERT_TRUE(now.ok()) << now.error().message();
  EXPECT_EQ(now->size(), 4u);
  Result<std::string> bad = year->Render(nlohmann::ordered_json::object(), {.now = "tomorrow"});
  EXPECT_FALSE(bad.ok());
  Result<Template> clock = Template::Parse("{{ strftime_now('%Y-%m-%d %H:%M:%S.%f') }}");
  ASSERT_TRUE(clock.ok());
  for (const auto& [when, expected] : std::vector<std::pair<std::string, std::string>>{
           {"2026-01-15", "2026-01-15 00:00:00.000000"},
           {"2026-01-15T10:30:00Z", "2026-01-15 10:30:00.000000"},
           {"2026-01-15 10:30:05.25+01:00", "2026-01-15 10:30:05.250000"},
           {"2024-02-29T23:59:59", "2024-02-29 23:59:59.000000"}}) {
    Result<std::string> text = clock->Render(nlohmann::ordered_json::object(), {.now = when});
    ASSERT_TRUE(text.ok()) << when << ": " << text.error().message();
    EXPECT_EQ(*text, expected) << when;
  }
  for (const char* invalid : {"2025-02-29", "2026-13-01", "2026-01-15T25:00", "2026-01-15T"}) {
    EXPECT_FALSE(clock->Render(nlohmann::ordered_json::object(), {.now = invalid}).ok()) << invalid;
  }
}

TEST(JinjaTest, ContextMustBeAnObject) {
  Result<Template> parsed = Template::Parse("x");
  ASSERT_TRUE(parsed.ok());
  Result<std::string> rendered = parsed->Render(nlohmann::ordered_json::array());
  ASSERT_FALSE(rendered.ok());
  EXPECT_EQ(rendered.error().code(), ErrorCode::kTypeMismatch);
}

TEST(JinjaTest, ContextKeepsKeyOrder) {
  const auto context = nlohmann::ordered_json::parse(R"({"d": {"z": 1, "a": {"y": 2, "b": 3}}})");
  EXPECT_EQ(Render("{{ d|tojson }} {% for k in d %}{{ k }}{% endfor %}", context),
            R"({"z": 1, "a": {"y": 2, "b": 3}} za)");
}

TEST(JinjaTest, TemplatesAreSharedAndRenderFromManyThreads) {
  Result<Template> parsed =
      Template::Parse("{% for m in messages %}{{ m.role }}:{{ m.content|trim }};{% endfor %}");
  ASSERT_TRUE(parsed.ok());
  const Template copy = *parsed;
  const nlohmann::ordered_json context = Context();
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < outputs.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 50; ++n) outputs[i] = copy.Render(context, kOptions).value_or("error");
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& output : outputs) {
    EXPECT_EQ(output, "system:Be brief.;user:Héllo, wörld!;assistant:Hi;");
  }
}

// Templates come from model files: whatever they do, Parse and Render return an error
// instead of crashing, exhausting memory or running forever.
TEST(JinjaTest, HostileTemplatesFailCleanly) {
  const std::string deep_parens =
      "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  std::string deep_ifs;
  for (int i = 0; i < 2000; ++i) deep_ifs += "{% if true %}";
  std::string long_filter_chain = "{{ 'x'";
  for (int i = 0; i < 5000; ++i) long_filter_chain += "|trim";
  long_filter_chain += " }}";
  const std::string sources[] = {
      deep_parens,
      deep_ifs,
      long_filter_chain,
      "{{ " + std::string(3000, '[') + std::string(3000, ']') + " }}",
      "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
      "{{ range(1000000000)|length }}",
      "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}",
      "{{ 'x' * 10000000000 }}",
      "{{ [1] * 10000000000 }}",
      "{{ 'x'|center(1000000000) }}",
      "{{ '%999999999d' % 1 }}",
      "{{ ('x' * 1000000).replace('x', 'y' * 1000) }}",
      "{% set ns = namespace(a=[]) %}{% for i in range(100000) %}{% set ns.a = [ns.a] %}"
      "{% endfor %}",
      "{% set ns = namespace(a=none) %}{% for i in range(100000) %}"
      "{% set ns.a = namespace(next=ns.a) %}{% endfor %}",
      "{% set big = range(1000000)|list %}{% for i in range(100000) %}{% if i in big %}"
      "{% endif %}{% endfor %}",
      "{{ [[[[1]]]]|tojson(indent=100000000) }}",
      "{{ 2 ** 1000 }}",
      "{{ 99999999999999999999 }}",
  };
  for (const std::string& source : sources) {
    SCOPED_TRACE(source.substr(0, 120));
    const std::string result = Render(source);
    EXPECT_TRUE(result.rfind("error: ", 0) == 0 || result.rfind("parse error: ", 0) == 0)
        << result.substr(0, 200);
  }
}

TEST(JinjaTest, RepeatingNothingManyTimesIsQuick) {
  EXPECT_EQ(Render("[{{ 10000000000000 * '' }}]{{ ([] * 10000000000000)|length }}"), "[]0");
}

TEST(JinjaTest, SelfReferencesPrintLikePython) {
  EXPECT_EQ(Render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"),
            "<Namespace {'me': <Namespace {...}>}>");
}

}  // namespace
}  // namespace wick::jinja
