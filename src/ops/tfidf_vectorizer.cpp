// TfIdfVectorizer: counts the n-grams of a pool (with skips) in each row of token ids or
// strings; TF, IDF or TFIDF weighting.
#include <algorithm>
#include <map>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

struct Pool {
  int64_t min_n = 0, max_n = 0, max_skip = 0, width = 0;
  std::string mode;
  std::vector<float> weights;
  std::map<std::vector<std::string>, int64_t> index;  // n-gram -> output column
};

Pool pool_of(const ir::Attributes& a, bool strings) {
  Pool p;
  p.min_n = a.int_("min_gram_length");
  p.max_n = a.int_("max_gram_length");
  p.max_skip = a.int_("max_skip_count");
  p.mode = a.get_string("mode", "TF");
  p.weights = a.get_floats("weights");
  if (p.mode != "TF" && p.mode != "IDF" && p.mode != "TFIDF")
    throw_error(StatusCode::kInvalidModel, "unknown mode '" + p.mode + "'");
  if (p.min_n < 1 || p.max_n < p.min_n || p.max_skip < 0)
    throw_error(StatusCode::kInvalidModel, "invalid gram lengths or skip count");
  std::vector<std::string> pool;
  if (strings) {
    pool = a.get_strings("pool_strings");
  } else {
    for (int64_t v : a.get_ints("pool_int64s")) pool.push_back(std::to_string(v));
  }
  std::vector<int64_t> counts = a.get_ints("ngram_counts");
  std::vector<int64_t> indexes = a.get_ints("ngram_indexes");
  for (int64_t v : indexes) {
    if (v < 0) throw_error(StatusCode::kInvalidModel, "ngram_indexes must not be negative");
    p.width = std::max(p.width, v + 1);
  }
  if (!p.weights.empty() && static_cast<int64_t>(p.weights.size()) < p.width)
    throw_error(StatusCode::kInvalidModel, "weights must have one value per output column");
  size_t k = 0;
  for (size_t n = 1; n <= counts.size(); ++n) {
    int64_t start = counts[n - 1];
    int64_t end = n < counts.size() ? counts[n] : static_cast<int64_t>(pool.size());
    if (start < 0 || end < start || end > static_cast<int64_t>(pool.size()) || (end - start) % static_cast<int64_t>(n))
      throw_error(StatusCode::kInvalidModel, "ngram_counts do not fit the pool");
    for (int64_t i = start; i < end; i += static_cast<int64_t>(n), ++k) {
      if (k >= indexes.size()) throw_error(StatusCode::kInvalidModel, "fewer ngram_indexes than n-grams in the pool");
      p.index[std::vector<std::string>(pool.begin() + i, pool.begin() + i + static_cast<int64_t>(n))] = indexes[k];
    }
  }
  return p;
}

void tfidf_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool strings = x.dtype() == DataType::kString;
  if (!strings && x.dtype() != DataType::kInt32 && x.dtype() != DataType::kInt64)
    ctx.fail("input must be string, int32 or int64, is " + x.describe());
  if (x.rank() != 1 && x.rank() != 2) ctx.fail("input must be [C] or [N, C], is " + x.describe());
  Pool p = pool_of(ctx.attrs(), strings);
  int64_t rows = x.rank() == 2 ? x.dim(0) : 1, cols = x.dims().back();
  std::vector<std::string> tokens;
  if (strings) tokens = x.strings();
  else
    for (int64_t v : x.to_i64()) tokens.push_back(std::to_string(v));
  std::vector<int64_t> dims{p.width};
  if (x.rank() == 2) dims.insert(dims.begin(), rows);
  Tensor& out = ctx.allocate_output(0, DataType::kFloat32, dims);
  float* o = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> count(static_cast<size_t>(p.width), 0);
    const std::string* row = tokens.data() + r * cols;
    for (int64_t start = 0; start < cols; ++start)
      for (int64_t skip = 0; skip <= p.max_skip; ++skip) {
        if (skip > 0 && start + skip + 1 >= cols) break;  // no second token fits: larger skips neither
        for (int64_t n = std::max<int64_t>(p.min_n, 1); n <= p.max_n; ++n) {
          if (n == 1 && skip > 0) continue;  // unigrams count once
          int64_t last = start + (n - 1) * (skip + 1);
          if (last >= cols) break;
          std::vector<std::string> gram;
          for (int64_t k = 0; k < n; ++k) gram.push_back(row[start + k * (skip + 1)]);
          auto it = p.index.find(gram);
          if (it != p.index.end()) ++count[static_cast<size_t>(it->second)];
        }
      }
    for (int64_t c = 0; c < p.width; ++c) {
      float w = p.weights.empty() ? 1.0f : p.weights[static_cast<size_t>(c)];
      float v = static_cast<float>(count[static_cast<size_t>(c)]);
      if (p.mode == "IDF") v = v > 0 ? w : 0;
      else if (p.mode == "TFIDF") v *= w;
      o[r * p.width + c] = v;
    }
  }
}

void infer_tfidf(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kString && dt != DataType::kInt32 && dt != DataType::kInt64 && dt != DataType::kUndefined)
    ctx.fail("input must be string, int32 or int64");
  Pool p = pool_of(ctx.attrs(), dt == DataType::kString);
  std::optional<Shape> out;
  if (const Shape* s = ctx.input_shape(0)) {
    if (s->rank() == 1) out = Shape({Dim(p.width)});
    else if (s->rank() == 2) out = Shape({(*s)[0], Dim(p.width)});
    else ctx.fail("input must be [C] or [N, C], is " + s->to_string());
  }
  ctx.set_output(0, DataType::kFloat32, out);
}

}  // namespace

KILN_REGISTER_OP(TfIdfVectorizer, {"", "TfIdfVectorizer", {9}, infer_tfidf, tfidf_cpu});

}  // namespace kiln::ops
