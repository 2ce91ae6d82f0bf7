// String ops: StringConcat, StringSplit, StringNormalizer, RegexFullMatch.
// RegexFullMatch uses std::regex with the ECMAScript grammar, not RE2 as the spec asks: the
// common subset (classes, groups, alternation, anchors, counted repeats) behaves the same.
#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include "ops/common/broadcast.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

const Tensor& string_input(KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DataType::kString) ctx.fail("input " + std::to_string(i) + " must be a string tensor, is " + t.describe());
  return t;
}

void check_string_type(InferenceContext& ctx, size_t i) {
  DataType dt = ctx.input_dtype(i);
  if (dt != DataType::kString && dt != DataType::kUndefined)
    ctx.fail("input " + std::to_string(i) + " must be a string tensor, is " + ctx.input_type(i).to_string());
}

// --- StringConcat
void string_concat_cpu(KernelContext& ctx) {
  const Tensor& a = string_input(ctx, 0);
  const Tensor& b = string_input(ctx, 1);
  std::vector<int64_t> dims = broadcast_dims(a.dims(), b.dims());
  Tensor& out = ctx.allocate_output(0, DataType::kString, dims);
  BroadcastWalker w(dims, {a.dims(), b.dims()});
  for (int64_t i = 0; i < out.numel(); ++i, w.next()) out.strings()[i] = a.strings()[w.offset(0)] + b.strings()[w.offset(1)];
}
void infer_string_concat(InferenceContext& ctx) {
  check_string_type(ctx, 0);
  check_string_type(ctx, 1);
  infer_broadcast(ctx);
  ir::ValueType t = ctx.outputs()[0];
  t.dtype = DataType::kString;
  ctx.set_output(0, t);
}

// --- StringSplit: Python's str.split semantics (the spec's reference).
std::vector<std::string> split_string(const std::string& s, const std::string& delim, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (!delim.empty()) {
    size_t start = 0;
    for (;;) {
      size_t pos = s.find(delim, start);
      if (pos == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit)) break;
      parts.push_back(s.substr(start, pos - start));
      start = pos + delim.size();
    }
    parts.push_back(s.substr(start));
    return parts;
  }
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && space(s[i])) ++i;
    if (i == n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      parts.push_back(s.substr(i));  // Python keeps the remainder's trailing spaces
      break;
    }
    size_t j = i;
    while (j < n && !space(s[j])) ++j;
    parts.push_back(s.substr(i, j - i));
    i = j;
  }
  return parts;
}

void string_split_cpu(KernelContext& ctx) {
  const Tensor& x = string_input(ctx, 0);
  std::string delim = ctx.attrs().get_string("delimiter", "");
  int64_t maxsplit = ctx.attrs().get_int("maxsplit", -1);
  std::vector<std::vector<std::string>> parts;
  size_t widest = 0;
  for (const std::string& s : x.strings()) {
    parts.push_back(split_string(s, delim, maxsplit));
    widest = std::max(widest, parts.back().size());
  }
  std::vector<int64_t> dims = x.dims();
  dims.push_back(static_cast<int64_t>(widest));
  Tensor& out = ctx.allocate_output(0, DataType::kString, dims);
  Tensor& len = ctx.allocate_output(1, DataType::kInt64, x.dims());
  for (size_t i = 0; i < parts.size(); ++i) {
    len.data<int64_t>()[i] = static_cast<int64_t>(parts[i].size());
    for (size_t k = 0; k < parts[i].size(); ++k) out.strings()[i * widest + k] = parts[i][k];
  }
}
void infer_string_split(InferenceContext& ctx) {
  check_string_type(ctx, 0);
  std::optional<Shape> out, len;
  if (const Shape* s = ctx.input_shape(0)) {
    len = *s;
    std::vector<Dim> d = s->dims();
    d.push_back(ctx.new_symbol());
    out = Shape(d);
  }
  ctx.set_output(0, DataType::kString, out);
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, len);
}

// --- StringNormalizer (as the spec's reference: stop words are removed token by token, then
// empty results are dropped; case changes are ASCII only).
std::string change_case(std::string s, const std::string& action) {
  if (action == "LOWER")
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  else if (action == "UPPER")
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string remove_stopwords(const std::string& text, const std::set<std::string>& stops) {
  std::string out;
  bool first = true;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(' ', start);
    std::string tok = text.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
    if (!stops.count(tok)) {
      if (!first) out += ' ';
      out += tok;
      first = false;
    }
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

void string_normalizer_cpu(KernelContext& ctx) {
  const Tensor& x = string_input(ctx, 0);
  if (!(x.rank() == 1 || (x.rank() == 2 && x.dim(0) == 1)))
    ctx.fail("input must be [C] or [1, C], is " + x.describe());
  std::string action = ctx.attrs().get_string("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER")
    ctx.fail("unknown case_change_action '" + action + "'");
  bool sensitive = ctx.attrs().get_int("is_case_sensitive", 0) != 0;
  std::vector<std::string> words = ctx.attrs().get_strings("stopwords");
  std::set<std::string> raw(words.begin(), words.end()), changed;
  for (const auto& w : words) changed.insert(change_case(w, action));
  std::vector<std::string> res;
  for (const std::string& s : x.strings()) {
    std::string r = s;
    if (sensitive && !raw.empty()) r = remove_stopwords(r, raw);
    r = change_case(r, action);
    if (!sensitive && !changed.empty()) r = remove_stopwords(r, changed);
    if (!r.empty()) res.push_back(r);
  }
  if (res.empty()) res.emplace_back();
  std::vector<int64_t> dims{static_cast<int64_t>(res.size())};
  if (x.rank() == 2) dims.insert(dims.begin(), 1);
  Tensor& out = ctx.allocate_output(0, DataType::kString, dims);
  std::copy(res.begin(), res.end(), out.strings().begin());
}
void infer_string_normalizer(InferenceContext& ctx) {
  check_string_type(ctx, 0);
  std::optional<Shape> out;
  if (const Shape* s = ctx.input_shape(0)) {
    if (s->rank() == 1) out = Shape({ctx.new_symbol()});
    else if (s->rank() == 2) out = Shape({Dim(1), ctx.new_symbol()});
    else ctx.fail("input must be [C] or [1, C], is " + s->to_string());
  }
  ctx.set_output(0, DataType::kString, out);
}

// --- RegexFullMatch
void regex_full_match_cpu(KernelContext& ctx) {
  const Tensor& x = string_input(ctx, 0);
  std::string pattern = ctx.attrs().get_string("pattern", "");
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    ctx.fail("invalid pattern '" + pattern + "': " + e.what());
  }
  Tensor& out = ctx.allocate_output(0, DataType::kBool, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) {
    try {
      out.data<bool>()[i] = std::regex_match(x.strings()[i], re);
    } catch (const std::regex_error& e) {
      ctx.fail(std::string("regex evaluation failed: ") + e.what());
    }
  }
}
void infer_regex_full_match(InferenceContext& ctx) {
  check_string_type(ctx, 0);
  const Shape* s = ctx.input_shape(0);
  ctx.set_output(0, DataType::kBool, s ? std::optional<Shape>(*s) : std::nullopt);
}

}  // namespace

KILN_REGISTER_OP(StringConcat, {"", "StringConcat", {20}, infer_string_concat, string_concat_cpu});
KILN_REGISTER_OP(StringSplit, {"", "StringSplit", {20}, infer_string_split, string_split_cpu});
KILN_REGISTER_OP(StringNormalizer, {"", "StringNormalizer", {10}, infer_string_normalizer, string_normalizer_cpu});
KILN_REGISTER_OP(RegexFullMatch, {"", "RegexFullMatch", {20}, infer_regex_full_match, regex_full_match_cpu});

}  // namespace kiln::ops
