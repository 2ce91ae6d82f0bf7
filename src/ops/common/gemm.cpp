// Goto-style blocked GEMM: B is packed in KC x NC panels of NR-wide strips, A in MC x KC blocks
// of MR-tall strips, and an MR x NR register-tile kernel (GCC vector extensions) does the
// multiply-adds. On x86-64 the macro kernel is also compiled for x86-64-v3 (AVX2+FMA) and
// picked at load time, so the binary still runs on any x86-64.
#include "ops/common/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace kiln::ops {
namespace {

constexpr int64_t kMR = 6;
constexpr int64_t kNR = 16;
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 96;    // multiple of kMR
constexpr int64_t kNC = 1024;  // multiple of kNR

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KILN_GEMM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KILN_GEMM_CLONES
#endif

// Packs op(A)[i0:i0+mc, p0:p0+kc] as MR-row strips, k-major inside a strip, zero-padded.
void pack_a(bool trans, const float* a, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc, float* out) {
  for (int64_t is = 0; is < mc; is += kMR) {
    int64_t rows = std::min(kMR, mc - is);
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t r = 0; r < rows; ++r) {
        int64_t i = i0 + is + r, kk = p0 + p;
        out[p * kMR + r] = trans ? a[kk * lda + i] : a[i * lda + kk];
      }
      for (int64_t r = rows; r < kMR; ++r) out[p * kMR + r] = 0.0f;
    }
    out += kc * kMR;
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] as NR-column strips, k-major inside a strip, zero-padded.
void pack_b(bool trans, const float* b, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out) {
  for (int64_t js = 0; js < nc; js += kNR) {
    int64_t cols = std::min(kNR, nc - js);
    for (int64_t p = 0; p < kc; ++p) {
      float* dst = out + p * kNR;
      int64_t kk = p0 + p;
      if (!trans && cols == kNR) {
        std::memcpy(dst, b + kk * ldb + j0 + js, kNR * sizeof(float));
        continue;
      }
      for (int64_t c = 0; c < cols; ++c) {
        int64_t j = j0 + js + c;
        dst[c] = trans ? b[j * ldb + kk] : b[kk * ldb + j];
      }
      for (int64_t c = cols; c < kNR; ++c) dst[c] = 0.0f;
    }
    out += kc * kNR;
  }
}

// acc[MR][NR] = sum over p of a[p][r] * b[p][c], for one packed strip pair.
inline __attribute__((always_inline)) void micro_kernel(int64_t kc, const float* a, const float* b, float* acc) {
  v8f c[kMR][2];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) c[r][0] = c[r][1] = v8f{};
  for (int64_t p = 0; p < kc; ++p) {
    v8f b0, b1;
    std::memcpy(&b0, b + p * kNR, sizeof(v8f));
    std::memcpy(&b1, b + p * kNR + 8, sizeof(v8f));
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      float av = a[p * kMR + r];
      c[r][0] += av * b0;
      c[r][1] += av * b1;
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) {
    std::memcpy(acc + r * kNR, &c[r][0], sizeof(v8f));
    std::memcpy(acc + r * kNR + 8, &c[r][1], sizeof(v8f));
  }
}

// C[0:mc, 0:nc] += alpha * packed A block * packed B panel.
KILN_GEMM_CLONES
void macro_kernel(int64_t mc, int64_t nc, int64_t kc, float alpha, const float* apack, const float* bpack, float* c,
                  int64_t ldc) {
  alignas(64) float acc[kMR * kNR];
  for (int64_t js = 0; js < nc; js += kNR) {
    int64_t cols = std::min(kNR, nc - js);
    const float* bs = bpack + (js / kNR) * kc * kNR;
    for (int64_t is = 0; is < mc; is += kMR) {
      int64_t rows = std::min(kMR, mc - is);
      micro_kernel(kc, apack + (is / kMR) * kc * kMR, bs, acc);
      for (int64_t r = 0; r < rows; ++r) {
        float* crow = c + (is + r) * ldc + js;
        const float* arow = acc + r * kNR;
        for (int64_t j = 0; j < cols; ++j) crow[j] += alpha * arow[j];
      }
    }
  }
}

// C += alpha * op(A) * op(B) on one thread.
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc) {
  std::vector<float> apack(static_cast<size_t>(kMC * kKC));
  std::vector<float> bpack(static_cast<size_t>(kKC * std::min(kNC, (n + kNR - 1) / kNR * kNR)));
  for (int64_t jc = 0; jc < n; jc += kNC) {
    int64_t nc = std::min(kNC, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKC) {
      int64_t kc = std::min(kKC, k - pc);
      pack_b(tb, b, ldb, pc, jc, kc, nc, bpack.data());
      for (int64_t ic = 0; ic < m; ic += kMC) {
        int64_t mc = std::min(kMC, m - ic);
        pack_a(ta, a, lda, ic, pc, mc, kc, apack.data());
        macro_kernel(mc, nc, kc, alpha, apack.data(), bpack.data(), c + ic * ldc + jc, ldc);
      }
    }
  }
}

int default_threads() {
  if (const char* env = std::getenv("KILN_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) return v;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 64u));
}

std::atomic<int>& max_threads_setting() {
  static std::atomic<int> v{default_threads()};
  return v;
}

}  // namespace

int gemm_max_threads() { return max_threads_setting().load(); }
void set_gemm_max_threads(int n) { max_threads_setting().store(std::max(1, n)); }

void gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      std::fill(row, row + n, 0.0f);
    else if (beta != 1.0f)
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
  if (k <= 0 || alpha == 0.0f) return;

  // One worker per ~8 MFLOP, never more than there are MR/NR strips to share.
  constexpr double kFlopsPerThread = 8e6;
  double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  bool split_rows = m >= n;
  int64_t strips = split_rows ? (m + kMR - 1) / kMR : (n + kNR - 1) / kNR;
  int64_t threads = std::min<int64_t>({gemm_max_threads(), static_cast<int64_t>(flops / kFlopsPerThread) + 1, strips});
  if (threads <= 1) {
    gemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    return;
  }
  int64_t unit = split_rows ? kMR : kNR;
  int64_t per = (strips + threads - 1) / threads * unit;
  auto work = [&](int64_t t) {
    int64_t lo = t * per, hi = std::min(split_rows ? m : n, lo + per);
    if (lo >= hi) return;
    if (split_rows)
      gemm_serial(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, c + lo * ldc, ldc);
    else
      gemm_serial(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, c + lo, ldc);
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

}  // namespace kiln::ops
