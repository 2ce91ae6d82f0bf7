// Einsum: any equation (implicit or explicit output, ellipsis broadcasting, repeated indices
// as diagonals, summed indices), by one walk over every combination of index values.
#include <algorithm>
#include <type_traits>

#include "ops/common/gemm.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

constexpr int kLetters = 52;  // 'A'..'Z' -> 0..25, 'a'..'z' -> 26..51 (ASCII order)

struct EinsumSpec {
  std::vector<std::vector<int>> terms;  // per input, the label of each dim
  std::vector<int> output;
  int num_labels = kLetters;            // letters, then one label per ellipsis dim
};

int letter_label(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  throw_error(StatusCode::kInvalidArgument, std::string("Einsum equation has an invalid character '") + c + "'");
}

struct RawTerm {
  std::vector<int> before, after;  // letters before and after the ellipsis
  bool ellipsis = false;
};

RawTerm parse_term(const std::string& s) {
  RawTerm t;
  size_t e = s.find("...");
  if (e != std::string::npos && s.find("...", e + 3) != std::string::npos)
    throw_error(StatusCode::kInvalidArgument, "Einsum term '" + s + "' has more than one ellipsis");
  std::string head = e == std::string::npos ? s : s.substr(0, e);
  for (char c : head) t.before.push_back(letter_label(c));
  if (e != std::string::npos) {
    t.ellipsis = true;
    for (char c : s.substr(e + 3)) t.after.push_back(letter_label(c));
  }
  return t;
}

// ranks[i] < 0: unknown (only allowed when term i has no ellipsis).
EinsumSpec parse_einsum(const std::string& equation, const std::vector<int64_t>& ranks) {
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq += c;
  size_t arrow = eq.find("->");
  std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
  std::vector<RawTerm> raw;
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    raw.push_back(parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (raw.size() != ranks.size())
    throw_error(StatusCode::kInvalidArgument, "Einsum equation has " + std::to_string(raw.size()) + " terms for " +
                                                  std::to_string(ranks.size()) + " inputs");
  int64_t ell = 0;
  std::vector<int64_t> ell_rank(raw.size(), 0);
  bool any_ellipsis = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    int64_t letters = static_cast<int64_t>(raw[i].before.size() + raw[i].after.size());
    if (raw[i].ellipsis) {
      any_ellipsis = true;
      if (ranks[i] < 0) throw_error(StatusCode::kUnsupported, "Einsum ellipsis with an input of unknown rank");
      ell_rank[i] = ranks[i] - letters;
      if (ell_rank[i] < 0) throw_error(StatusCode::kInvalidArgument, "Einsum term has more indices than its input's rank");
      ell = std::max(ell, ell_rank[i]);
    } else if (ranks[i] >= 0 && ranks[i] != letters) {
      throw_error(StatusCode::kInvalidArgument, "Einsum term " + std::to_string(i) + " has " + std::to_string(letters) +
                                                    " indices for an input of rank " + std::to_string(ranks[i]));
    }
  }
  EinsumSpec spec;
  spec.num_labels = kLetters + static_cast<int>(ell);
  std::vector<int> count(spec.num_labels, 0);
  for (size_t i = 0; i < raw.size(); ++i) {
    std::vector<int> t = raw[i].before;
    for (int64_t j = ell - ell_rank[i]; j < ell; ++j) t.push_back(kLetters + static_cast<int>(j));
    t.insert(t.end(), raw[i].after.begin(), raw[i].after.end());
    for (int l : t) ++count[l];
    spec.terms.push_back(t);
  }
  if (arrow == std::string::npos) {
    if (any_ellipsis)
      for (int64_t j = 0; j < ell; ++j) spec.output.push_back(kLetters + static_cast<int>(j));
    for (int l = 0; l < kLetters; ++l)
      if (count[l] == 1) spec.output.push_back(l);
  } else {
    RawTerm out = parse_term(eq.substr(arrow + 2));
    spec.output = out.before;
    if (out.ellipsis)
      for (int64_t j = 0; j < ell; ++j) spec.output.push_back(kLetters + static_cast<int>(j));
    spec.output.insert(spec.output.end(), out.after.begin(), out.after.end());
    std::vector<int> seen(spec.num_labels, 0);
    for (int l : spec.output) {
      if (seen[l]++) throw_error(StatusCode::kInvalidArgument, "Einsum output repeats an index");
      if (l < kLetters && count[l] == 0) throw_error(StatusCode::kInvalidArgument, "Einsum output index not in any input");
    }
  }
  return spec;
}

// Each label's size: equal wherever it appears, or 1 (broadcast).
std::vector<int64_t> label_sizes(const EinsumSpec& spec, const std::vector<std::vector<int64_t>>& dims) {
  std::vector<int64_t> size(spec.num_labels, -1);
  for (size_t i = 0; i < spec.terms.size(); ++i)
    for (size_t d = 0; d < spec.terms[i].size(); ++d) {
      int l = spec.terms[i][d];
      int64_t v = dims[i][d];
      if (size[l] < 0 || size[l] == 1)
        size[l] = v;
      else if (v != 1 && v != size[l])
        throw_error(StatusCode::kInvalidArgument, "Einsum index sizes differ: " + std::to_string(size[l]) + " and " +
                                                      std::to_string(v));
    }
  return size;
}

template <typename T, typename Acc>
void einsum_run(const EinsumSpec& spec, const std::vector<const Tensor*>& in, const std::vector<int64_t>& size,
                Tensor& y) {
  std::vector<int> order = spec.output;  // output labels outermost, then the summed ones
  std::vector<bool> is_out(spec.num_labels, false);
  for (int l : spec.output) is_out[l] = true;
  for (int l = 0; l < spec.num_labels; ++l)
    if (!is_out[l] && size[l] >= 0) order.push_back(l);
  size_t nt = in.size(), nl = order.size();
  std::vector<std::vector<int64_t>> stride(nt, std::vector<int64_t>(nl, 0));
  for (size_t t = 0; t < nt; ++t) {
    int64_t s = 1;
    for (size_t d = spec.terms[t].size(); d-- > 0;) {
      int64_t dim = in[t]->dim(d);
      if (dim != 1)
        for (size_t j = 0; j < nl; ++j)
          if (order[j] == spec.terms[t][d]) stride[t][j] += s;
      s *= dim;
    }
  }
  std::vector<int64_t> out_stride(nl, 0);
  int64_t s = 1;
  for (size_t j = spec.output.size(); j-- > 0;) out_stride[j] = s, s *= size[order[j]];
  int64_t total = 1;
  for (int l : order) {
    if (size[l] == 0) total = 0;
    if (total == 0) break;
    if (size[l] > (int64_t{1} << 40) / total)
      throw_error(StatusCode::kUnsupported, "Einsum too large for the reference kernel's generic walk");
    total *= size[l];
  }
  std::vector<Acc> acc(static_cast<size_t>(y.numel()), Acc(0));
  std::vector<int64_t> idx(nl, 0), off(nt, 0);
  int64_t out_off = 0;
  for (int64_t it = 0; it < total; ++it) {
    Acc prod = Acc(1);
    for (size_t t = 0; t < nt; ++t) {
      const T* p = in[t]->data<T>();
      if constexpr (std::is_arithmetic_v<T>)
        prod *= static_cast<Acc>(p[off[t]]);
      else
        prod *= static_cast<Acc>(static_cast<float>(p[off[t]]));
    }
    acc[out_off] += prod;
    for (size_t j = nl; j-- > 0;) {
      int64_t n = size[order[j]];
      for (size_t t = 0; t < nt; ++t) off[t] += stride[t][j];
      out_off += out_stride[j];
      if (++idx[j] < n) break;
      for (size_t t = 0; t < nt; ++t) off[t] -= stride[t][j] * n;
      out_off -= out_stride[j] * n;
      idx[j] = 0;
    }
  }
  T* py = y.data<T>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    if constexpr (std::is_arithmetic_v<T>)
      py[i] = static_cast<T>(acc[i]);
    else
      py[i] = T(static_cast<float>(acc[i]));
  }
}


// dst (labels dst_labels, sizes from size[]) = src (labels src_labels) with its dims permuted.
void permute(const float* src, const std::vector<int>& src_labels, const std::vector<int>& dst_labels,
             const std::vector<int64_t>& size, float* dst) {
  size_t r = dst_labels.size();
  std::vector<int64_t> src_stride(r, 0), dims(r), idx(r, 0);
  for (size_t j = 0; j < r; ++j) {
    dims[j] = size[dst_labels[j]];
    int64_t st = 1;
    for (size_t d = src_labels.size(); d-- > 0;) {
      if (src_labels[d] == dst_labels[j]) src_stride[j] = st;
      st *= size[src_labels[d]];
    }
  }
  int64_t total = 1, off = 0;
  for (int64_t d : dims) total *= d;
  for (int64_t i = 0; i < total; ++i) {
    dst[i] = src[off];
    for (size_t j = r; j-- > 0;) {
      off += src_stride[j];
      if (++idx[j] < dims[j]) break;
      off -= src_stride[j] * dims[j];
      idx[j] = 0;
    }
  }
}

// Two float32 operands without diagonals or broadcast dims: permute to [batch, m, k] and
// [batch, k, n] and run the shared GEMM per batch. False when the equation does not fit.
bool einsum_by_gemm(const EinsumSpec& spec, const Tensor& a, const Tensor& b, const std::vector<int64_t>& size,
                    Tensor& y) {
  if (a.dtype() != DataType::kFloat32 || spec.terms.size() != 2) return false;
  std::vector<int> where(spec.num_labels, 0);  // bit 0: in A, bit 1: in B, bit 2: in the output
  const Tensor* in[2] = {&a, &b};
  for (int t = 0; t < 2; ++t)
    for (size_t d = 0; d < spec.terms[t].size(); ++d) {
      int l = spec.terms[t][d];
      if (where[l] & (1 << t)) return false;  // a diagonal
      if (in[t]->dim(d) != size[l]) return false;  // broadcast
      where[l] |= 1 << t;
    }
  for (int l : spec.output) where[l] |= 4;
  std::vector<int> batch, m, n, k;
  int64_t nb = 1, nm = 1, nn = 1, nk = 1;
  for (int l = 0; l < spec.num_labels; ++l) {
    switch (where[l]) {
      case 0: break;
      case 7: batch.push_back(l), nb *= size[l]; break;
      case 5: m.push_back(l), nm *= size[l]; break;
      case 6: n.push_back(l), nn *= size[l]; break;
      case 3: k.push_back(l), nk *= size[l]; break;
      default: return false;  // summed within one operand
    }
  }
  auto cat = [](std::vector<int> x, const std::vector<int>& y1, const std::vector<int>& y2) {
    x.insert(x.end(), y1.begin(), y1.end());
    x.insert(x.end(), y2.begin(), y2.end());
    return x;
  };
  std::vector<float> pa(static_cast<size_t>(nb * nm * nk)), pb(static_cast<size_t>(nb * nk * nn)),
      py(static_cast<size_t>(nb * nm * nn));
  permute(a.data<float>(), spec.terms[0], cat(batch, m, k), size, pa.data());
  permute(b.data<float>(), spec.terms[1], cat(batch, k, n), size, pb.data());
  for (int64_t i = 0; i < nb; ++i)
    gemm_f32(false, false, nm, nn, nk, 1.0f, pa.data() + i * nm * nk, nk, pb.data() + i * nk * nn, nn, 0.0f,
             py.data() + i * nm * nn, nn);
  permute(py.data(), cat(batch, m, n), spec.output, size, y.data<float>());
  return true;
}

void einsum_cpu(KernelContext& ctx) {
  std::vector<const Tensor*> in;
  std::vector<int64_t> ranks;
  std::vector<std::vector<int64_t>> dims;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    in.push_back(&ctx.input(i));
    ranks.push_back(static_cast<int64_t>(in.back()->rank()));
    dims.push_back(in.back()->dims());
    if (in.back()->dtype() != in[0]->dtype()) ctx.fail("Einsum inputs must share one dtype");
  }
  if (in.empty()) ctx.fail("Einsum needs at least one input");
  EinsumSpec spec = parse_einsum(ctx.attrs().get_string("equation", ""), ranks);
  auto size = label_sizes(spec, dims);
  std::vector<int64_t> out_dims;
  for (int l : spec.output) out_dims.push_back(size[l]);
  Tensor& y = ctx.allocate_output(0, in[0]->dtype(), out_dims);
  if (in.size() == 2 && einsum_by_gemm(spec, *in[0], *in[1], size, y)) return;
  dispatch_numeric(in[0]->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
    einsum_run<T, Acc>(spec, in, size, y);
  });
}

void infer_einsum(InferenceContext& ctx) {
  std::vector<int64_t> ranks;
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    shapes.push_back(ctx.input_shape(i));
    ranks.push_back(shapes.back() ? static_cast<int64_t>(shapes.back()->rank()) : -1);
  }
  EinsumSpec spec;
  try {
    spec = parse_einsum(ctx.attrs().get_string("equation", ""), ranks);
  } catch (const Error& e) {
    if (e.code() == StatusCode::kUnsupported) {
      ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
      return;
    }
    ctx.fail(e.what());
  }
  std::vector<Dim> label_dim(spec.num_labels, Dim::unknown());
  for (size_t i = 0; i < spec.terms.size(); ++i) {
    if (!shapes[i]) continue;
    for (size_t d = 0; d < spec.terms[i].size(); ++d) {
      Dim& cur = label_dim[spec.terms[i][d]];
      const Dim& v = (*shapes[i])[d];
      if (cur.is_unknown() || (cur.is_constant() && cur.value() == 1)) cur = v;
    }
  }
  std::vector<Dim> out;
  for (int l : spec.output) out.push_back(label_dim[l]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(out));
}

}  // namespace

KILN_REGISTER_OP(Einsum, {"", "Einsum", {12, 28}, infer_einsum, einsum_cpu});

}  // namespace kiln::ops
