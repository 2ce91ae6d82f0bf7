// RotaryEmbedding (opset 23): rotates (part of) each head's features by position-dependent
// angles given as cos/sin caches, in halves or interleaved pairs.
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void rotary_embedding_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cos_t = ctx.input(1);
  const Tensor& sin_t = ctx.input(2);
  const bool has_pos = ctx.has_input(3);
  if (x.rank() != 3 && x.rank() != 4) ctx.fail("input must be 3-D or 4-D, got " + x.describe());
  if (cos_t.dtype() != x.dtype() || sin_t.dtype() != x.dtype()) ctx.fail("cos/sin caches must have the input's dtype");
  if (cos_t.dims() != sin_t.dims()) ctx.fail("cos_cache and sin_cache shapes differ");
  const int64_t batch = x.dim(0);
  int64_t heads, seq, head;
  // Element (b, s, h, d) of the input lives at b*sb + s*ss + h*hs + d.
  int64_t sb, ss, hs;
  if (x.rank() == 4) {
    heads = x.dim(1), seq = x.dim(2), head = x.dim(3);
    sb = heads * seq * head, hs = seq * head, ss = head;
  } else {
    heads = ctx.attrs().get_int("num_heads", 0);
    seq = x.dim(1);
    if (heads <= 0 || x.dim(2) % heads != 0)
      ctx.fail("3-D input needs num_heads dividing the hidden size " + std::to_string(x.dim(2)));
    head = x.dim(2) / heads;
    sb = seq * x.dim(2), ss = x.dim(2), hs = head;
  }
  int64_t rdim = ctx.attrs().get_int("rotary_embedding_dim", 0);
  if (rdim == 0) rdim = head;
  if (rdim < 0 || rdim > head || rdim % 2 != 0) ctx.fail("rotary_embedding_dim must be even and <= head size");
  const int64_t half = rdim / 2;
  const bool interleaved = ctx.attrs().get_int("interleaved", 0) != 0;
  std::vector<int64_t> pos;
  if (has_pos) {
    const Tensor& p = ctx.input(3);
    if (p.rank() != 2 || p.dim(0) != batch || p.dim(1) != seq) ctx.fail("position_ids must have shape (batch, seq)");
    if (cos_t.rank() != 2 || cos_t.dim(1) != half)
      ctx.fail("with position_ids, cos_cache must be (max_position, rotary_dim/2), got " + cos_t.describe());
    pos = p.to_i64();
    for (int64_t v : pos)
      if (v < 0 || v >= cos_t.dim(0)) ctx.fail("position id " + std::to_string(v) + " is out of the cache's range");
  } else if (cos_t.rank() != 3 || cos_t.dim(0) != batch || cos_t.dim(1) != seq || cos_t.dim(2) != half) {
    ctx.fail("without position_ids, cos_cache must be (batch, seq, rotary_dim/2), got " + cos_t.describe());
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const T* pc = cos_t.data<T>();
    const T* ps = sin_t.data<T>();
    T* po = out.data<T>();
    std::copy_n(px, x.numel(), po);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t row = has_pos ? pos[b * seq + s] : b * seq + s;
        for (int64_t h = 0; h < heads; ++h) {
          const int64_t base = b * sb + s * ss + h * hs;
          for (int64_t i = 0; i < half; ++i) {
            const int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
            const double c = load_d(pc[row * half + i]), sn = load_d(ps[row * half + i]);
            const double x1 = load_d(px[base + i1]), x2 = load_d(px[base + i2]);
            po[base + i1] = store_d<T>(round_to<T>(c * x1) - round_to<T>(sn * x2));
            po[base + i2] = store_d<T>(round_to<T>(sn * x1) + round_to<T>(c * x2));
          }
        }
      }
  });
}

void infer_rotary_embedding(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("RotaryEmbedding: input must be a float tensor");
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() != 3 && s->rank() != 4) ctx.fail("RotaryEmbedding: input must be 3-D or 4-D");
  if (s && s->rank() == 3 && ctx.attrs().get_int("num_heads", 0) <= 0)
    ctx.fail("RotaryEmbedding: 3-D input needs num_heads");
  ctx.set_output(0, ctx.input_type(0));
}

}  // namespace

KILN_REGISTER_OP(RotaryEmbedding, {"", "RotaryEmbedding", {23}, infer_rotary_embedding, rotary_embedding_cpu});

}  // namespace kiln::ops
