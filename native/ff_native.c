// FissionFusion native kernels for the tfjs wasm backend: convolution (forward
// and both gradients), max-pool gradient, bias add and leading-axes sum. Every
// function works in place on Float32Array views of the wasm heap (no copies).
// Convolutions with output channels in multiples of 16 run register-blocked
// direct kernels; the others a patch matrix and OpenBLAS's sgemm.
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The few OpenBLAS entry points used (declared here so no cblas.h path is needed).
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
char *openblas_get_config(void);

// Patch-matrix chunks stay below this many floats (16 MiB) whatever the image size.
#define CHUNK_FLOATS (4 * 1024 * 1024)

// Per JS thread (an addon may be loaded by several worker_threads).
static _Thread_local float *scratch = NULL;
static _Thread_local size_t scratch_len = 0;

static float *get_scratch(size_t n) {
  if (n > scratch_len) {
    free(scratch);
    scratch = malloc(n * sizeof(float));
    scratch_len = scratch == NULL ? 0 : n;
  }
  return scratch;
}

// Convolution geometry, NHWC input / HWIO filter, passed as an Int32Array.
typedef struct {
  int n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, top, left;
} Geom;
#define GEOM_LEN 15
// Filters up to 11×11 (the direct kernels keep one pointer per tap).
#define MAX_TAPS 128

#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error(env, NULL, "ff_native: bad argument");       \
      return NULL;                                                  \
    }                                                               \
  } while (0)

// Data pointer and element count of a typed array of the given type (NULL for null/undefined).
static int typed_as(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  return napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) == napi_ok && type == want;
}

// A Float32Array argument (or null).
static int typed(napi_env env, napi_value v, void **data, size_t *len) {
  return typed_as(env, v, napi_float32_array, data, len);
}

static int geom(napi_env env, napi_value v, Geom *g) {
  void *d;
  size_t len;
  if (!typed_as(env, v, napi_int32_array, &d, &len) || d == NULL || len != GEOM_LEN) return 0;
  memcpy(g, d, sizeof(Geom));
  return 1;
}

// Whether the input (NHWC), filter (HWIO) and output (NHWC) lengths match the geometry.
static int sizes_ok(const Geom *g, size_t in, size_t filter, size_t out) {
  return g->n > 0 && in == (size_t)g->n * g->h * g->w * g->ci &&
         filter == (size_t)g->kh * g->kw * g->ci * g->co && out == (size_t)g->n * g->oh * g->ow * g->co;
}

static int is_pointwise(const Geom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->top == 0 && g->left == 0 && g->oh == g->h &&
         g->ow == g->w;
}

// Rows [m0, m1) of the patch matrix (row = output pixel, columns = kh·kw·ci).
static void im2col(const Geom *g, const float *x, float *p, int m0, int m1) {
  const int ohw = g->oh * g->ow, ci = g->ci, k = g->kh * g->kw * ci;
  for (int m = m0; m < m1; m++) {
    const int b = m / ohw, r = (m % ohw) / g->ow, q = m % g->ow;
    float *row = p + (size_t)(m - m0) * k;
    for (int a = 0; a < g->kh; a++) {
      const int i = r * g->sh - g->top + a * g->dh;
      for (int c = 0; c < g->kw; c++, row += ci) {
        const int j = q * g->sw - g->left + c * g->dw;
        // Plain loops, not memcpy: ci is often tiny (1 or 3 channels).
        if (i < 0 || i >= g->h || j < 0 || j >= g->w) {
          for (int t = 0; t < ci; t++) row[t] = 0.f;
        } else {
          const float *src = x + (((size_t)b * g->h + i) * g->w + j) * ci;
          for (int t = 0; t < ci; t++) row[t] = src[t];
        }
      }
    }
  }
}

// Adds rows [m0, m1) of a patch-matrix gradient back into dx.
static void col2im(const Geom *g, const float *p, float *dx, int m0, int m1) {
  const int ohw = g->oh * g->ow, ci = g->ci, k = g->kh * g->kw * ci;
  for (int m = m0; m < m1; m++) {
    const int b = m / ohw, r = (m % ohw) / g->ow, q = m % g->ow;
    const float *row = p + (size_t)(m - m0) * k;
    for (int a = 0; a < g->kh; a++) {
      const int i = r * g->sh - g->top + a * g->dh;
      for (int c = 0; c < g->kw; c++, row += ci) {
        const int j = q * g->sw - g->left + c * g->dw;
        if (i < 0 || i >= g->h || j < 0 || j >= g->w) continue;
        float *d = dx + (((size_t)b * g->h + i) * g->w + j) * ci;
        for (int t = 0; t < ci; t++) d[t] += row[t];
      }
    }
  }
}


// Direct convolution for output channels in multiples of 16: every output
// pixel's taps are read straight from x (no patch matrix), 6 pixels × 16
// channels of accumulators in registers. Compiled for AVX-512, AVX2+FMA and
// plain x86-64; pick_simd() chooses by the CPU's features when the addon loads.
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));
#define ROWS 6

static inline __attribute__((always_inline)) v16 load16(const float *p) {
  v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static _Thread_local float *zeros = NULL;
static _Thread_local size_t zeros_len = 0;

static const float *get_zeros(size_t n) {
  if (n > zeros_len) {
    free(zeros);
    zeros = calloc(n, sizeof(float));
    zeros_len = zeros == NULL ? 0 : n;
  }
  return zeros;
}

// Stores 16 outputs after the activation: ReLU (and ReLU6) with masks, keeping NaN as tfjs does.
static inline __attribute__((always_inline)) void store_act(v16 v, int act, float *dst) {
  const v16 six = (v16){0} + 6.f;
  if (act >= 1) v = (v16)((i16)v & ~(i16)(v < (v16){0}));
  if (act == 2) {
    const i16 big = (i16)(v > six);
    v = (v16)(((i16)v & ~big) | ((i16)six & big));
  }
  memcpy(dst, &v, sizeof v);
}

static int direct_ok(const Geom *g) { return g->co % 16 == 0 && g->kh * g->kw <= MAX_TAPS; }

static inline __attribute__((always_inline)) void conv_direct_body(const Geom *g, const float *x, const float *w, const float *bias, int act, const float *zero, int m_begin, int m_end,
                        int o_begin, int o_end, float *y, const int OB) {
  const int ohw = g->oh * g->ow, ci = g->ci, co = g->co, taps = g->kh * g->kw;
  const float *src[ROWS][MAX_TAPS];
  ptrdiff_t tap_offset[MAX_TAPS];
  for (int a = 0; a < g->kh; a++)
    for (int c = 0; c < g->kw; c++) tap_offset[a * g->kw + c] = ((ptrdiff_t)a * g->dh * g->w + (ptrdiff_t)c * g->dw) * ci;
  // Pixel (b, i0, j0) of row m, advanced one row at a time (no divisions in the loop).
  int b = m_begin / ohw, i0 = m_begin % ohw / g->ow, j0 = m_begin % g->ow;
  for (int m0 = m_begin; m0 < m_end; m0 += ROWS) {
    const int nr = m_end - m0 < ROWS ? m_end - m0 : ROWS;
    for (int r = 0; r < ROWS; r++) {
      const int i1 = i0 * g->sh - g->top, j1 = j0 * g->sw - g->left;
      if (r < nr && i1 >= 0 && i1 + (g->kh - 1) * g->dh < g->h && j1 >= 0 && j1 + (g->kw - 1) * g->dw < g->w) {
        // Interior pixel: every tap is in bounds, at a fixed offset from the window's corner.
        const float *corner = x + (((size_t)b * g->h + i1) * g->w + j1) * ci;
        for (int t = 0; t < taps; t++) src[r][t] = corner + tap_offset[t];
      } else {
        for (int a = 0, t = 0; a < g->kh; a++) {
          const int i = i0 * g->sh - g->top + a * g->dh;
          for (int c = 0; c < g->kw; c++, t++) {
            const int j = j0 * g->sw - g->left + c * g->dw;
            src[r][t] = r >= nr || i < 0 || i >= g->h || j < 0 || j >= g->w
                            ? zero
                            : x + (((size_t)b * g->h + i) * g->w + j) * ci;
          }
        }
      }
      if (r < nr && ++j0 == g->ow) {
        j0 = 0;
        if (++i0 == g->oh) {
          i0 = 0;
          b++;
        }
      }
    }
    for (int o = o_begin; o < o_end; o += 16 * OB) {
      v16 acc[ROWS][4];
      _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) {
        const v16 b0 = bias != NULL ? load16(bias + o + 16 * k) : (v16){0};
        _Pragma("GCC unroll 8") for (int r = 0; r < ROWS; r++) acc[r][k] = b0;
      }
      for (int t = 0; t < taps; t++) {
        const float *wt = w + (size_t)t * ci * co + o;
        const float *s0 = src[0][t], *s1 = src[1][t], *s2 = src[2][t], *s3 = src[3][t], *s4 = src[4][t],
                    *s5 = src[5][t];
        for (int c = 0; c < ci; c++) {
          _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) {
            const v16 wv = load16(wt + (size_t)c * co + 16 * k);
            acc[0][k] += s0[c] * wv;
            acc[1][k] += s1[c] * wv;
            acc[2][k] += s2[c] * wv;
            acc[3][k] += s3[c] * wv;
            acc[4][k] += s4[c] * wv;
            acc[5][k] += s5[c] * wv;
          }
        }
      }
      for (int r = 0; r < nr; r++)
        _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) store_act(acc[r][k], act, y + (size_t)(m0 + r) * co + o + 16 * k);
    }
  }
}

// Image-major direct convolution for small feature maps (the deep stages of a
// ResNet: 2×2, 4×4, 7×7 outputs): a block is IR images at the same output pixel,
// so a tap is in bounds for all of them or for none, and padding taps are skipped
// instead of multiplied by zeros (at 2×2 with a 3×3 window 5 of 9 taps are
// padding). Output channels [o_begin, o_end) in steps of 16·OB, outermost, so one
// slice of the filter stays in cache while every pixel and image uses it.
#define IR 6
static inline __attribute__((always_inline)) void conv_im_body(const Geom *g, const float *x, const float *w,
                                                               const float *bias, int act, int o_begin, int o_end,
                                                               float *y, const int OB) {
  const int ci = g->ci, co = g->co, ohw = g->oh * g->ow, n = g->n;
  const size_t img = (size_t)g->h * g->w * ci;
  int tap_w[MAX_TAPS];
  ptrdiff_t tap_x[MAX_TAPS];
  for (int o = o_begin; o < o_end; o += 16 * OB) {
    v16 b0[4];
    _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) b0[k] = bias != NULL ? load16(bias + o + 16 * k) : (v16){0};
    for (int p = 0; p < ohw; p++) {
      const int i0 = p / g->ow, j0 = p % g->ow;
      int nt = 0;
      for (int a = 0; a < g->kh; a++) {
        const int i = i0 * g->sh - g->top + a * g->dh;
        if (i < 0 || i >= g->h) continue;
        for (int c = 0; c < g->kw; c++) {
          const int j = j0 * g->sw - g->left + c * g->dw;
          if (j < 0 || j >= g->w) continue;
          tap_w[nt] = a * g->kw + c;
          tap_x[nt++] = ((ptrdiff_t)i * g->w + j) * ci;
        }
      }
      for (int bb = 0; bb < n; bb += IR) {
        const int nr = n - bb < IR ? n - bb : IR;
        v16 acc[IR][4];
        _Pragma("GCC unroll 8") for (int r = 0; r < IR; r++)
          _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) acc[r][k] = b0[k];
        // Rows past the last image repeat image bb (in bounds; their sums are not stored).
        const float *base[IR];
        _Pragma("GCC unroll 8") for (int r = 0; r < IR; r++) base[r] = x + (size_t)(bb + (r < nr ? r : 0)) * img;
        for (int t = 0; t < nt; t++) {
          const float *wt = w + (size_t)tap_w[t] * ci * co + o;
          const float *s0 = base[0] + tap_x[t], *s1 = base[1] + tap_x[t], *s2 = base[2] + tap_x[t],
                      *s3 = base[3] + tap_x[t], *s4 = base[4] + tap_x[t], *s5 = base[5] + tap_x[t];
          for (int c = 0; c < ci; c++) {
            _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) {
              const v16 wv = load16(wt + (size_t)c * co + 16 * k);
              acc[0][k] += s0[c] * wv;
              acc[1][k] += s1[c] * wv;
              acc[2][k] += s2[c] * wv;
              acc[3][k] += s3[c] * wv;
              acc[4][k] += s4[c] * wv;
              acc[5][k] += s5[c] * wv;
            }
          }
        }
        _Pragma("GCC unroll 8") for (int r = 0; r < nr; r++)
          _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) store_act(acc[r][k], act, y + ((size_t)(bb + r) * ohw + p) * co + o + 16 * k);
      }
    }
  }
}

// dW[t, c, o] = Σ over output pixels of x(pixel, tap t, channel c) · dy[pixel, o], for
// NC input channels at a time (accumulators in registers across the whole batch).
#define DW_BLOCK(NC)                                                                                    \
  do {                                                                                                  \
    v16 acc[NC];                                                                                        \
    for (int k = 0; k < NC; k++) acc[k] = (v16){0};                                                     \
    for (int b = 0, m = 0; b < g->n; b++) {                                                             \
      for (int i0 = 0; i0 < g->oh; i0++) {                                                              \
        const int i = i0 * g->sh - g->top + a * g->dh;                                                  \
        if (i < 0 || i >= g->h) {                                                                       \
          m += g->ow;                                                                                   \
          continue;                                                                                     \
        }                                                                                               \
        const float *xrow = x + ((size_t)b * g->h + i) * g->w * ci + c0;                                \
        for (int j0 = 0; j0 < g->ow; j0++, m++) {                                                       \
          const int j = j0 * g->sw - g->left + bb * g->dw;                                              \
          if (j < 0 || j >= g->w) continue;                                                             \
          const float *p = xrow + (size_t)j * ci;                                                       \
          const v16 d = load16(dy + (size_t)m * co + o);                                                \
          for (int k = 0; k < NC; k++) acc[k] += p[k] * d;                                              \
        }                                                                                               \
      }                                                                                                 \
    }                                                                                                   \
    for (int k = 0; k < NC; k++) memcpy(dw + ((size_t)(a * g->kw + bb) * ci + c0 + k) * co + o, &acc[k], sizeof acc[k]); \
    c0 += NC;                                                                                           \
  } while (0)

static inline __attribute__((always_inline)) void dw_direct_body(const Geom *g, const float *x, const float *dy,
                                                                 float *dw, int item_begin, int item_end) {
  const int ci = g->ci, co = g->co, blocks = co / 16;
  // One item = one filter tap and 16 output channels.
  for (int item = item_begin; item < item_end; item++) {
    const int a = item / blocks / g->kw, bb = item / blocks % g->kw, o = item % blocks * 16;
    int c0 = 0;
    while (ci - c0 >= 8) DW_BLOCK(8);
    while (ci - c0 >= 1) DW_BLOCK(1);
  }
}

// Filter gradient as a blocked matrix product: dw[t, c, o] = Σ over output pixels
// of x(pixel shifted by tap t, c) · dy(pixel, o). Sums of NC input channels × 16·OB
// output channels stay in registers over a chunk of output rows (sized so the
// chunk's x and dy stay in L2), padding taps are skipped row by row (no per-pixel
// test), and each chunk adds its sums into dw. Output channels [o_begin, o_end).
static inline __attribute__((always_inline)) void dw_tile(const Geom *g, const float *x, const float *dy,
                                                          float *dw, int r0, int r1, int t, int c0, int o,
                                                          int first, const int NC, const int OB) {
  const int ci = g->ci, co = g->co, a = t / g->kw, cc = t % g->kw;
  v16 acc[6][4];
  _Pragma("GCC unroll 8") for (int q = 0; q < NC; q++)
    _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) acc[q][k] = (v16){0};
  // Output columns whose input column is inside the image for this tap.
  const int off = cc * g->dw - g->left;
  int jlo = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
  int jhi = (g->w - 1 - off) >= 0 ? (g->w - 1 - off) / g->sw + 1 : 0;
  if (jhi > g->ow) jhi = g->ow;
  for (int r = r0; r < r1; r++) {
    const int b = r / g->oh, i0 = r % g->oh, i = i0 * g->sh - g->top + a * g->dh;
    if (i < 0 || i >= g->h) continue;
    const float *xrow = x + ((size_t)b * g->h + i) * g->w * ci + c0;
    const float *drow = dy + (size_t)r * g->ow * co + o;
    for (int j0 = jlo; j0 < jhi; j0++) {
      const float *xp = xrow + (size_t)(j0 * g->sw + off) * ci;
      const float *dp = drow + (size_t)j0 * co;
      v16 dv[4];
      _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) dv[k] = load16(dp + 16 * k);
      _Pragma("GCC unroll 8") for (int q = 0; q < NC; q++) {
        const float xs = xp[q];
        _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) acc[q][k] += xs * dv[k];
      }
    }
  }
  _Pragma("GCC unroll 8") for (int q = 0; q < NC; q++)
    _Pragma("GCC unroll 8") for (int k = 0; k < OB; k++) {
      float *dst = dw + ((size_t)t * ci + c0 + q) * co + o + 16 * k;
      v16 sum = acc[q][k];
      if (!first) sum += load16(dst);
      memcpy(dst, &sum, sizeof sum);
    }
}

static inline __attribute__((always_inline)) void dw_gemm_body(const Geom *g, const float *x, const float *dy,
                                                               float *dw, int o_begin, int o_end, const int OB) {
  const int ci = g->ci, taps = g->kh * g->kw, rows = g->n * g->oh;
  // Rows per chunk: about 1 MiB of x and dy.
  int chunk = (int)(262144 / ((size_t)(ci * g->sh * g->sw + g->co) * g->ow));
  if (chunk < 1) chunk = 1;
  for (int r0 = 0; r0 < rows; r0 += chunk) {
    const int r1 = r0 + chunk < rows ? r0 + chunk : rows;
    for (int t = 0; t < taps; t++)
      for (int o = o_begin; o < o_end; o += 16 * OB) {
        int c0 = 0;
        for (; c0 + 6 <= ci; c0 += 6) dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 6, OB);
        switch (ci - c0) {
          case 5: dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 5, OB); break;
          case 4: dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 4, OB); break;
          case 3: dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 3, OB); break;
          case 2: dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 2, OB); break;
          case 1: dw_tile(g, x, dy, dw, r0, r1, t, c0, o, r0 == 0, 1, OB); break;
          default: break;
        }
      }
  }
}

// Few input channels (1..SMALL_CI, e.g. grey or RGB images): the per-pixel tap
// pointers of the kernels above would cost more than the few multiply-adds they
// feed. These kernels copy one image at a time into a zero-padded buffer instead,
// so every window is in bounds: one corner pointer, constant strides, no checks.
#define SMALL_CI 4

static int small_ok(const Geom *g) { return g->ci <= SMALL_CI && g->top >= 0 && g->left >= 0; }

// Padded image size: rows ph, columns pw (the window of every output pixel, plus
// ROWS - 1 spare output columns so a row's last block of ROWS pixels stays inside).
static void pad_dims(const Geom *g, int *ph, int *pw) {
  *ph = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  *pw = (g->ow + ROWS - 2) * g->sw + (g->kw - 1) * g->dw + 1;
}

static _Thread_local float *pad_buf = NULL;
static _Thread_local size_t pad_len = 0;

static float *get_pad(const Geom *g) {
  int ph, pw;
  pad_dims(g, &ph, &pw);
  const size_t n = (size_t)ph * pw * g->ci;
  if (n > pad_len) {
    free(pad_buf);
    pad_buf = malloc(n * sizeof(float));
    pad_len = pad_buf == NULL ? 0 : n;
  }
  return pad_buf;
}

static inline __attribute__((always_inline)) void pad_image(const Geom *g, const float *x, int b, float *pad,
                                                            const int CI) {
  int ph, pw;
  pad_dims(g, &ph, &pw);
  for (int i = 0; i < ph; i++) {
    const int si = i - g->top;
    float *row = pad + (size_t)i * pw * CI;
    if (si < 0 || si >= g->h) {
      memset(row, 0, (size_t)pw * CI * sizeof(float));
      continue;
    }
    const float *src = x + ((size_t)b * g->h + si) * g->w * CI;
    for (int j = 0; j < pw; j++) {
      const int sj = j - g->left, in = sj >= 0 && sj < g->w;
      for (int t = 0; t < CI; t++) row[j * CI + t] = in ? src[sj * CI + t] : 0.f;
    }
  }
}

// Output rows [r_begin, r_end) of n·oh, ROWS pixels × 16 channels per block.
// K = 3 says the window is 3×3 (the loops then unroll and the weights stay in registers).
static inline __attribute__((always_inline)) void conv_small_body(const Geom *g, const float *x, const float *w,
                                                                  const float *bias, int act, float *pad,
                                                                  int r_begin, int r_end, float *y, const int CI,
                                                                  const int K) {
  const int co = g->co, kh = K ? K : g->kh, kw = K ? K : g->kw, ps = g->sw * CI;
  int ph, pw, cur = -1;
  pad_dims(g, &ph, &pw);
  for (int r = r_begin; r < r_end; r++) {
    const int b = r / g->oh, i0 = r % g->oh;
    if (b != cur) pad_image(g, x, cur = b, pad, CI);
    const float *prow = pad + (size_t)i0 * g->sh * pw * CI;
    float *yr = y + (size_t)r * g->ow * co;
    for (int o = 0; o < co; o += 16) {
      const v16 b0 = bias != NULL ? load16(bias + o) : (v16){0};
      for (int j0 = 0; j0 < g->ow; j0 += ROWS) {
        const int nr = g->ow - j0 < ROWS ? g->ow - j0 : ROWS;
        const float *p = prow + (size_t)j0 * ps;
        v16 acc[ROWS];
        for (int q = 0; q < ROWS; q++) acc[q] = b0;
        for (int a = 0; a < kh; a++)
          for (int c = 0; c < kw; c++) {
            const float *s = p + ((size_t)a * g->dh * pw + (size_t)c * g->dw) * CI;
            const float *wt = w + (size_t)(a * kw + c) * CI * co + o;
            for (int t = 0; t < CI; t++) {
              const v16 wv = load16(wt + (size_t)t * co);
              for (int q = 0; q < ROWS; q++) acc[q] += s[q * ps + t] * wv;
            }
          }
        for (int q = 0; q < nr; q++) store_act(acc[q], act, yr + (size_t)(j0 + q) * co + o);
      }
    }
  }
}

// Filter gradient of images [b_begin, b_end), added into dw: per output pixel,
// one dy load feeds KH × KW taps × CI channels of accumulators (KH = KW = 3 for
// 3×3 windows and up to 3 channels, else KH = 1 and KW = 3 or 1), and P pixels'
// partial sums are in flight so the adds do not wait on each other.
static inline __attribute__((always_inline)) void dw_small_body(const Geom *g, const float *x, const float *dy,
                                                                float *dw, float *pad, int b_begin, int b_end,
                                                                const int CI, const int KH, const int KW) {
  const int P = KH * KW * CI >= 8 ? 1 : KH * KW * CI >= 3 ? 2 : 4;
  const int co = g->co, kw = g->kw, ps = g->sw * CI;
  int ph, pw;
  pad_dims(g, &ph, &pw);
  for (int b = b_begin; b < b_end; b++) {
    pad_image(g, x, b, pad, CI);
    for (int a0 = 0; a0 < g->kh; a0 += KH)
      for (int c0 = 0; c0 < kw; c0 += KW)
        for (int o = 0; o < co; o += 16) {
          v16 acc[P][KH][KW][CI];
          for (int q = 0; q < P; q++)
            for (int a = 0; a < KH; a++)
              for (int c = 0; c < KW; c++)
                for (int t = 0; t < CI; t++) acc[q][a][c][t] = (v16){0};
          for (int i0 = 0; i0 < g->oh; i0++) {
            const float *s = pad + ((size_t)(i0 * g->sh + a0 * g->dh) * pw + (size_t)c0 * g->dw) * CI;
            const float *d = dy + ((size_t)b * g->oh + i0) * g->ow * co + o;
            for (int j0 = 0; j0 < g->ow; j0 += P)
              for (int q = 0; q < P && j0 + q < g->ow; q++) {
                const v16 dv = load16(d + (size_t)(j0 + q) * co);
                const float *sp = s + (size_t)(j0 + q) * ps;
                for (int a = 0; a < KH; a++)
                  for (int c = 0; c < KW; c++)
                    for (int t = 0; t < CI; t++)
                      acc[q][a][c][t] += sp[((size_t)a * g->dh * pw + (size_t)c * g->dw) * CI + t] * dv;
              }
          }
          for (int a = 0; a < KH; a++)
            for (int c = 0; c < KW; c++)
              for (int t = 0; t < CI; t++) {
                float *dst = dw + ((size_t)((a0 + a) * kw + c0 + c) * CI + t) * co + o;
                v16 sum = load16(dst);
                for (int q = 0; q < P; q++) sum += acc[q][a][c][t];
                memcpy(dst, &sum, sizeof sum);
              }
        }
  }
}

// The CI = 1..SMALL_CI instances (a constant channel count unrolls the inner loops).
#define SMALL_CASES(call) \
  switch (g->ci) {        \
    case 1: call(1); break; \
    case 2: call(2); break; \
    case 3: call(3); break; \
    default: call(4); break; \
  }
#define CONV_SMALL_CALL(CI)                                                              \
  do {                                                                                   \
    if (g->kh == 3 && g->kw == 3) conv_small_body(g, x, w, bias, act, pad, r_begin, r_end, y, CI, 3); \
    else conv_small_body(g, x, w, bias, act, pad, r_begin, r_end, y, CI, 0);              \
  } while (0)
#define DW_SMALL_CALL(CI)                                                                  \
  do {                                                                                     \
    if (g->kh == 3 && g->kw == 3 && CI <= 3) dw_small_body(g, x, dy, dw, pad, b_begin, b_end, CI, 3, 3); \
    else if (g->kw == 3) dw_small_body(g, x, dy, dw, pad, b_begin, b_end, CI, 1, 3);        \
    else dw_small_body(g, x, dy, dw, pad, b_begin, b_end, CI, 1, 1);                        \
  } while (0)

// One body, compiled three times; the CPU's features pick one (CPU models do not matter).
typedef void ConvDirect(const Geom *, const float *, const float *, const float *, int, const float *, int, int, int, int, float *);
// AVX-512: 6 pixels × 64 channels of sums in registers (24 zmm) when the channels allow; AVX2 6 × 16.
// Output channels [o_begin, o_end) (multiples of 64 when co is).
#define CONV_DIRECT_VARIANT(name, attr, WIDE)                                                                    \
  attr static void name(const Geom *g, const float *x, const float *w, const float *bias, int act,               \
                        const float *zero, int m_begin, int m_end, int o_begin, int o_end, float *y) {          \
    if (WIDE >= 4 && g->co % 64 == 0) conv_direct_body(g, x, w, bias, act, zero, m_begin, m_end, o_begin, o_end, y, 4);      \
    else if (WIDE >= 2 && g->co % 32 == 0) conv_direct_body(g, x, w, bias, act, zero, m_begin, m_end, o_begin, o_end, y, 2); \
    else conv_direct_body(g, x, w, bias, act, zero, m_begin, m_end, o_begin, o_end, y, 1);                                  \
  }
#define DW_DIRECT_VARIANT(name, attr)                                                                        \
  attr static void name(const Geom *g, const float *x, const float *dy, float *dw, int begin, int end) {        \
    dw_direct_body(g, x, dy, dw, begin, end);                                                                   \
  }
CONV_DIRECT_VARIANT(conv_direct_avx512, __attribute__((target("avx512f,fma"))), 4)
CONV_DIRECT_VARIANT(conv_direct_avx2, __attribute__((target("avx2,fma"))), 1)
CONV_DIRECT_VARIANT(conv_direct_generic, , 1)
#define CONV_SMALL_VARIANT(name, attr)                                                                           \
  attr static void name(const Geom *g, const float *x, const float *w, const float *bias, int act, float *pad,    \
                        int r_begin, int r_end, float *y) {                                                      \
    SMALL_CASES(CONV_SMALL_CALL)                                                                                 \
  }
#define DW_SMALL_VARIANT(name, attr)                                                                             \
  attr static void name(const Geom *g, const float *x, const float *dy, float *dw, float *pad, int b_begin,      \
                        int b_end) {                                                                             \
    SMALL_CASES(DW_SMALL_CALL)                                                                                   \
  }
typedef void ConvIm(const Geom *, const float *, const float *, const float *, int, int, int, float *);
// AVX-512 keeps 6 images × 16·IM_WIDE channels of sums in registers; AVX2 6 × 16 (12 of 16 ymm).
#ifndef IM_WIDE
#define IM_WIDE 4
#endif
#define CONV_IM_VARIANT(name, attr, OB_WIDE)                                                                   \
  attr static void name(const Geom *g, const float *x, const float *w, const float *bias, int act, int o_begin, \
                        int o_end, float *y) {                                                                 \
    if (OB_WIDE >= 4 && (o_end - o_begin) % 64 == 0) conv_im_body(g, x, w, bias, act, o_begin, o_end, y, 4);     \
    else if (OB_WIDE >= 2 && (o_end - o_begin) % 32 == 0) conv_im_body(g, x, w, bias, act, o_begin, o_end, y, 2); \
    else conv_im_body(g, x, w, bias, act, o_begin, o_end, y, 1);                                               \
  }
CONV_IM_VARIANT(conv_im_avx512, __attribute__((target("avx512f,fma"))), IM_WIDE)
CONV_IM_VARIANT(conv_im_avx2, __attribute__((target("avx2,fma"))), 1)
CONV_IM_VARIANT(conv_im_generic, , 1)
static ConvIm *conv_im = NULL;
#ifndef IM_MAX_PIXELS
#define IM_MAX_PIXELS 256
#endif
static const int im_max_pixels = IM_MAX_PIXELS;
typedef void DwGemm(const Geom *, const float *, const float *, float *, int, int);
// AVX-512: 6 input × 64 output channels of sums (24 zmm); AVX2: 6 × 16 (12 ymm).
#define DW_GEMM_VARIANT(name, attr, OB_WIDE)                                                                  \
  attr static void name(const Geom *g, const float *x, const float *dy, float *dw, int o_begin, int o_end) {   \
    if (OB_WIDE >= 4 && (o_end - o_begin) % 64 == 0) dw_gemm_body(g, x, dy, dw, o_begin, o_end, 4);          \
    else if (OB_WIDE >= 2 && (o_end - o_begin) % 32 == 0) dw_gemm_body(g, x, dy, dw, o_begin, o_end, 2);     \
    else dw_gemm_body(g, x, dy, dw, o_begin, o_end, 1);                                                      \
  }
DW_GEMM_VARIANT(dw_gemm_avx512, __attribute__((target("avx512f,fma"))), 4)
DW_GEMM_VARIANT(dw_gemm_avx2, __attribute__((target("avx2,fma"))), 1)
DW_GEMM_VARIANT(dw_gemm_generic, , 1)
static DwGemm *dw_gemm = NULL;
DW_DIRECT_VARIANT(dw_direct_avx512, __attribute__((target("avx512f,fma"))))
DW_DIRECT_VARIANT(dw_direct_avx2, __attribute__((target("avx2,fma"))))
DW_DIRECT_VARIANT(dw_direct_generic, )
CONV_SMALL_VARIANT(conv_small_avx512, __attribute__((target("avx512f,fma"))))
CONV_SMALL_VARIANT(conv_small_avx2, __attribute__((target("avx2,fma"))))
CONV_SMALL_VARIANT(conv_small_generic, )
DW_SMALL_VARIANT(dw_small_avx512, __attribute__((target("avx512f,fma"))))
DW_SMALL_VARIANT(dw_small_avx2, __attribute__((target("avx2,fma"))))
DW_SMALL_VARIANT(dw_small_generic, )
typedef void DwDirect(const Geom *, const float *, const float *, float *, int, int);
static DwDirect *dw_direct = NULL;
typedef void ConvSmall(const Geom *, const float *, const float *, const float *, int, float *, int, int, float *);
static ConvSmall *conv_small = NULL;
typedef void DwSmall(const Geom *, const float *, const float *, float *, float *, int, int);
static DwSmall *dw_small = NULL;

static ConvDirect *conv_direct = NULL;
static const char *simd_name = "generic";

static void pick_simd(void) {
  __builtin_cpu_init();
  // FF_NATIVE_SIMD=avx2|generic (tests, diagnosis): a narrower set than the CPU allows.
  const char *force = getenv("FF_NATIVE_SIMD");
  const int avx512 = force == NULL || *force == 0 || strcmp(force, "avx512") == 0, avx2 = avx512 || strcmp(force, "avx2") == 0;
  if (avx512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) {
    conv_direct = conv_direct_avx512;
    conv_im = conv_im_avx512;
    dw_gemm = dw_gemm_avx512;
    dw_direct = dw_direct_avx512;
    conv_small = conv_small_avx512;
    dw_small = dw_small_avx512;
    simd_name = "AVX-512";
  } else if (avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    conv_direct = conv_direct_avx2;
    conv_im = conv_im_avx2;
    dw_gemm = dw_gemm_avx2;
    dw_direct = dw_direct_avx2;
    conv_small = conv_small_avx2;
    dw_small = dw_small_avx2;
    simd_name = "AVX2";
  } else {
    conv_direct = conv_direct_generic;
    conv_im = conv_im_generic;
    dw_gemm = dw_gemm_generic;
    dw_direct = dw_direct_generic;
    conv_small = conv_small_generic;
    dw_small = dw_small_generic;
  }
}

// Threads of the native kernels (setThreads): each splits its work into that many parts.
static _Thread_local int threads = 1;

// Returns 0 when a thread's padded-image buffer cannot be allocated.
static int run_conv_small(const Geom *g, const float *x, const float *w, const float *bias, int act, float *y) {
  const int rows = g->n * g->oh, nt = rows < threads ? rows : threads;
  if (rows == 0) return 1;
  int failed = 0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) reduction(| : failed)
  for (int part = 0; part < nt; part++) {
    float *pad = get_pad(g);
    if (pad == NULL) failed = 1;
    else conv_small(g, x, w, bias, act, pad, rows * part / nt, rows * (part + 1) / nt, y);
  }
  return !failed;
}

// Image-major blocks pay off where the feature map is small (many padding taps, little
// reuse of neighbouring windows) and there are images enough to fill the blocks.
static int im_ok(const Geom *g) {
  // A last block of few images wastes its empty rows (batch 8: 6 + 2 of 12): at most 25% spare.
  const int rows = (g->n + IR - 1) / IR * IR, pixels = g->oh * g->ow, taps = g->kh * g->kw, k = taps * g->ci;
  if (!(pixels <= im_max_pixels && g->n >= 2 && rows * 4 <= g->n * 5)) return 0;
  // Measured on ResNet-18 (64 px) and ResNet-50 (224 px) shapes: pixel-major is faster for strided
  // convolutions, for 14×14 maps with long sums (ResNet-50's third stage: 130 → 210 GFLOP/s) and for
  // 1×1 convolutions with long sums, whose 64-channel filter slices crowd L2.
  if (g->sh != 1 || g->sw != 1) return 0;
  if (pixels > 64 && k > 576) return 0;
  return taps > 1 || k <= 1024;
}

#ifndef DIRECT_L2_BYTES
#define DIRECT_L2_BYTES (1024 * 1024)
#endif
#ifndef DIRECT_PANEL_BYTES
#define DIRECT_PANEL_BYTES (512 * 1024)
#endif
static void run_conv_direct(const Geom *g, const float *x, const float *w, const float *bias, int act,
                            const float *zero, float *y) {
  if (small_ok(g) && run_conv_small(g, x, w, bias, act, y)) return;
  if (im_ok(g)) {
    const int width = g->co % 64 == 0 ? 64 : g->co % 32 == 0 ? 32 : 16, blocks = g->co / width;
    const int nt = blocks < threads ? blocks : threads;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int part = 0; part < nt; part++)
      conv_im(g, x, w, bias, act, blocks * part / nt * width, blocks * (part + 1) / nt * width, y);
    return;
  }
  const int rows = g->n * g->oh * g->ow, blocks = (rows + ROWS - 1) / ROWS, nt = blocks < threads ? 1 : threads;
  // A filter larger than L2 would be streamed from L3 for every block of 6 pixels: with many output
  // channels and short sums (ResNet-50's stride-2 shortcuts, 1024 → 2048: 130-150 → 180 GFLOP/s)
  // they go in panels whose filter slice (≤ ~512 KiB) stays in L2 while every pixel uses it. With
  // long sums re-reading the input per panel costs more than it saves (measured), so not then.
  const size_t k = (size_t)g->kh * g->kw * g->ci, bytes = k * g->co * sizeof(float);
  int panel = g->co;
  if (bytes > DIRECT_L2_BYTES && g->co % 64 == 0 && g->co >= 1024 && k <= 1024) {
    panel = (int)(DIRECT_PANEL_BYTES / (k * sizeof(float) * 64)) * 64;
    if (panel < 64) panel = 64;
    if (panel > g->co) panel = g->co;
  }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int part = 0; part < nt; part++) {
    const int m0 = (int)((long long)blocks * part / nt) * ROWS, m1 = (int)((long long)blocks * (part + 1) / nt) * ROWS;
    for (int o = 0; o < g->co; o += panel)
      conv_direct(g, x, w, bias, act, zero, m0, m1 < rows ? m1 : rows, o, o + panel < g->co ? o + panel : g->co, y);
  }
}

// Each thread sums its share of the images into its own copy of dw (thread 0's is dw
// itself), then the copies are added up. Returns 0 when a buffer cannot be allocated.
static int run_dw_small(const Geom *g, const float *x, const float *dy, float *dw) {
  const size_t len = (size_t)g->kh * g->kw * g->ci * g->co;
  const int nt = g->n < threads ? g->n : threads;
  float *partial = nt > 1 ? calloc((size_t)(nt - 1) * len, sizeof(float)) : NULL;
  if (nt > 1 && partial == NULL) return 0;
  memset(dw, 0, len * sizeof(float));
  int failed = 0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) reduction(| : failed)
  for (int part = 0; part < nt; part++) {
    float *pad = get_pad(g);
    if (pad == NULL) failed = 1;
    else dw_small(g, x, dy, part == 0 ? dw : partial + (size_t)(part - 1) * len, pad, g->n * part / nt,
                  g->n * (part + 1) / nt);
  }
  for (int part = 1; part < nt; part++)
    for (size_t k = 0; k < len; k++) dw[k] += partial[(size_t)(part - 1) * len + k];
  free(partial);
  return !failed;
}

#ifndef DW_GEMM_SMALL
#define DW_GEMM_SMALL 1
#endif
static void run_dw_direct(const Geom *g, const float *x, const float *dy, float *dw) {
  const int items = g->kh * g->kw * (g->co / 16), nt = items < threads ? items : threads;
  if (!(g->co % 64 == 0 && DW_GEMM_SMALL) && small_ok(g) && run_dw_small(g, x, dy, dw)) return;
  if (g->ci > SMALL_CI || g->co % 64 == 0) {
    // Output-channel slices per thread, in multiples of 64 where possible.
    const int unit = g->co % 64 == 0 ? 64 : g->co % 32 == 0 ? 32 : 16, blocks = g->co / unit;
    const int np = blocks < threads ? blocks : threads;
#pragma omp parallel for num_threads(np) schedule(static) if (np > 1)
    for (int part = 0; part < np; part++) dw_gemm(g, x, dy, dw, blocks * part / np * unit, blocks * (part + 1) / np * unit);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int part = 0; part < nt; part++) dw_direct(g, x, dy, dw, items * part / nt, items * (part + 1) / nt);
}

static int chunk_rows(int k) {
  int rows = CHUNK_FLOATS / (k > 0 ? k : 1);
  return rows < 1 ? 1 : rows;
}

// conv2d(x, filter, bias|null, y, geom, activation): activation 0 linear, 1 relu, 2 relu6.
static napi_value conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *x, *f, *bias, *y;
  size_t lx, lf, lb, ly;
  Geom g;
  int32_t act;
  if (argc != 6 || !typed(env, argv[0], &x, &lx) || !typed(env, argv[1], &f, &lf) ||
      !typed(env, argv[2], &bias, &lb) || !typed(env, argv[3], &y, &ly) || !geom(env, argv[4], &g) ||
      napi_get_value_int32(env, argv[5], &act) != napi_ok || !sizes_ok(&g, lx, lf, ly) ||
      (bias != NULL && lb != (size_t)g.co)) {
    napi_throw_error(env, NULL, "ff_native.conv2d: bad arguments");
    return NULL;
  }
  const int k = g.kh * g.kw * g.ci, rows = g.n * g.oh * g.ow, co = g.co;
  float *out = y;
  if (direct_ok(&g)) {
    const float *zero = get_zeros(g.ci);
    if (zero == NULL) {
      napi_throw_error(env, NULL, "ff_native.conv2d: out of memory");
      return NULL;
    }
    run_conv_direct(&g, x, f, bias, act, zero, out);
    return NULL;
  }
  if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, co, k, 1.f, x, k, f, co, 0.f, out, co);
  } else {
    const int step = chunk_rows(k);
    float *p = get_scratch((size_t)(step < rows ? step : rows) * k);
    if (p == NULL) {
      napi_throw_error(env, NULL, "ff_native.conv2d: out of memory");
      return NULL;
    }
    for (int m0 = 0; m0 < rows; m0 += step) {
      const int m1 = m0 + step < rows ? m0 + step : rows;
      im2col(&g, x, p, m0, m1);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, co, k, 1.f, p, k, f, co, 0.f,
                  out + (size_t)m0 * co, co);
    }
  }
  if (bias != NULL || act != 0) {
    const float *bs = bias;
    for (size_t m = 0; m < (size_t)rows; m++) {
      float *o = out + m * co;
      if (bs != NULL)
        for (int c = 0; c < co; c++) o[c] += bs[c];
      if (act == 1)
        for (int c = 0; c < co; c++) o[c] = o[c] > 0.f ? o[c] : 0.f;
      else if (act == 2)
        for (int c = 0; c < co; c++) o[c] = o[c] > 0.f ? (o[c] < 6.f ? o[c] : 6.f) : 0.f;
    }
  }
  return NULL;
}

// conv2dBackpropFilter(x, dy, dw, geom): dw[K, Co] = Σ over patch rows of Pᵀ·dy.
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *x, *dy, *dw;
  size_t lx, ldy, ldw;
  Geom g;
  if (argc != 4 || !typed(env, argv[0], &x, &lx) || !typed(env, argv[1], &dy, &ldy) ||
      !typed(env, argv[2], &dw, &ldw) || !geom(env, argv[3], &g) || !sizes_ok(&g, lx, ldw, ldy)) {
    napi_throw_error(env, NULL, "ff_native.conv2dBackpropFilter: bad arguments");
    return NULL;
  }
  const int k = g.kh * g.kw * g.ci, rows = g.n * g.oh * g.ow, co = g.co;
  const float *d = dy;
  if (direct_ok(&g)) {
    run_dw_direct(&g, x, d, dw);
    return NULL;
  }
  if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, co, rows, 1.f, x, k, d, co, 0.f, dw, co);
    return NULL;
  }
  const int step = chunk_rows(k);
  float *p = get_scratch((size_t)(step < rows ? step : rows) * k);
  if (p == NULL) {
    napi_throw_error(env, NULL, "ff_native.conv2dBackpropFilter: out of memory");
    return NULL;
  }
  for (int m0 = 0; m0 < rows; m0 += step) {
    const int m1 = m0 + step < rows ? m0 + step : rows;
    im2col(&g, x, p, m0, m1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, co, m1 - m0, 1.f, p, k, d + (size_t)m0 * co, co,
                m0 == 0 ? 0.f : 1.f, dw, co);
  }
  return NULL;
}

// ceil(a / b) for b > 0 and any sign of a.
static int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
// floor(a / b) for b > 0 and any sign of a.
static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Input gradient of a strided convolution without a patch matrix. The pixels i of dx with
// (i + top) % sh == ph (and likewise for columns) form one phase: only the taps a ≡ ph (mod sh)
// reach them, and over those taps dx is a stride-1 convolution of dy with the flipped,
// transposed sub-filter. Each phase runs the direct kernels into a buffer whose rows are then
// copied to their places in dx; a phase no tap reaches (1×1 stride 2: three of four) is zero.
// Works for stride 1 too (one phase). Returns 0 when a buffer cannot be allocated.
// Taps of phase ph of a window of k taps at stride s (0 when none reaches it).
static int phase_taps(int k, int s, int ph) { return ph < k ? (k - ph + s - 1) / s : 0; }

// The transposed, flipped sub-filter of every phase, one after another (stride 1: the whole
// filter flipped): sub[α, β, o, c] = w[ph + sh·(ka − 1 − α), pw + sw·(kb − 1 − β), c, o],
// transposed in 16×16 tiles (a plain strided loop misses the cache at 512 channels).
static void prepare_backprop_filter(const Geom *g, const float *w, float *out) {
  const int ci = g->ci, co = g->co;
  float *sub = out;
  for (int ph = 0; ph < g->sh; ph++)
    for (int pw = 0; pw < g->sw; pw++) {
      const int ka = phase_taps(g->kh, g->sh, ph), kb = phase_taps(g->kw, g->sw, pw);
      for (int al = 0; al < ka; al++)
        for (int be = 0; be < kb; be++) {
          const int a = ph + g->sh * (ka - 1 - al), b = pw + g->sw * (kb - 1 - be);
          const float *src = w + ((size_t)a * g->kw + b) * ci * co;
          float *dst = sub + ((size_t)al * kb + be) * co * ci;
          for (int c0 = 0; c0 < ci; c0 += 16)
            for (int o0 = 0; o0 < co; o0 += 16) {
              const int c1 = c0 + 16 < ci ? c0 + 16 : ci, o1 = o0 + 16 < co ? o0 + 16 : co;
              for (int c = c0; c < c1; c++)
                for (int o = o0; o < o1; o++) dst[(size_t)o * ci + c] = src[(size_t)c * co + o];
            }
        }
      sub += (size_t)ka * kb * ci * co;
    }
}

static int backprop_input_phases(const Geom *g, const float *dy, const float *prepared, float *dx) {
  const int ci = g->ci, co = g->co;
  const float *zero = get_zeros(co);
  if (zero == NULL) return 0;
  float *out = NULL;
  size_t out_len = 0;
  const float *sub = prepared;
  for (int ph = 0; ph < g->sh; ph++)
    for (int pw = 0; pw < g->sw; pw++) {
      const int ka = phase_taps(g->kh, g->sh, ph), kb = phase_taps(g->kw, g->sw, pw);
      const float *phase_filter = sub;
      sub += (size_t)ka * kb * ci * co;
      const int u0 = ceil_div(g->top - ph, g->sh), u1 = floor_div(g->h - 1 + g->top - ph, g->sh);
      const int v0 = ceil_div(g->left - pw, g->sw), v1 = floor_div(g->w - 1 + g->left - pw, g->sw);
      const int hu = u1 - u0 + 1, wv = v1 - v0 + 1;
      if (hu <= 0 || wv <= 0) continue;
      if (ka > 0 && kb > 0) {
        const size_t need = (size_t)g->n * hu * wv * ci;
        if (need > out_len) {
          free(out);
          out = malloc(need * sizeof(float));
          out_len = out == NULL ? 0 : need;
          if (out == NULL) return 0;
        }
        const Geom t = {g->n, g->oh, g->ow, co, hu, wv, ci, ka, kb, 1, 1, 1, 1, ka - 1 - u0, kb - 1 - v0};
        run_conv_direct(&t, dy, phase_filter, NULL, 0, zero, out);
      }
      for (int b = 0; b < g->n; b++)
        for (int u = 0; u < hu; u++) {
          const int i = g->sh * (u + u0) + ph - g->top;
          float *drow = dx + ((size_t)b * g->h + i) * g->w * ci;
          for (int v = 0; v < wv; v++) {
            float *dst = drow + (size_t)(g->sw * (v + v0) + pw - g->left) * ci;
            if (ka > 0 && kb > 0) memcpy(dst, out + (((size_t)b * hu + u) * wv + v) * ci, (size_t)ci * sizeof(float));
            else memset(dst, 0, (size_t)ci * sizeof(float));
          }
        }
    }
  free(out);
  return 1;
}

// conv2dBackpropInput(dy, filter, dx, geom[, prepared, fill]): dx of a convolution. Direct kernels
// (stride 1 and strided, by phases) run on the filter transposed for them: into `prepared` (as many
// floats as the filter) when `fill` is true, read from it when false (the caller keeps it for the
// same filter and geometry: the micro-batches of a step share their weights), else into scratch.
// The other cases: dP = dy·Wᵀ (sgemm), scattered back into dx.
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *dy, *f, *dx, *pre = NULL;
  size_t ldy, lf, ldx, lpre = 0;
  bool fill = true;
  Geom g;
  if ((argc != 4 && argc != 6) || !typed(env, argv[0], &dy, &ldy) || !typed(env, argv[1], &f, &lf) ||
      !typed(env, argv[2], &dx, &ldx) || !geom(env, argv[3], &g) || !sizes_ok(&g, ldx, lf, ldy) ||
      (argc == 6 && (!typed(env, argv[4], &pre, &lpre) || napi_get_value_bool(env, argv[5], &fill) != napi_ok ||
                     (pre != NULL && lpre != lf)))) {
    napi_throw_error(env, NULL, "ff_native.conv2dBackpropInput: bad arguments");
    return NULL;
  }
  const int k = g.kh * g.kw * g.ci, rows = g.n * g.oh * g.ow, co = g.co;
  const float *d = dy;
  const int stride1 = g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ci % 16 == 0 && g.kh * g.kw <= MAX_TAPS &&
                      g.kh - 1 - g.top >= 0 && g.kw - 1 - g.left >= 0;
  const int phases = !stride1 && g.dh == 1 && g.dw == 1 && g.ci % 16 == 0 && g.kh * g.kw <= MAX_TAPS && !is_pointwise(&g);
  if (stride1 || phases) {
    float *w = pre != NULL ? (float *)pre : get_scratch((size_t)k * co);
    const float *zero = get_zeros(co);
    if (w == NULL || zero == NULL) {
      napi_throw_error(env, NULL, "ff_native.conv2dBackpropInput: out of memory");
      return NULL;
    }
    if (pre == NULL || fill) prepare_backprop_filter(&g, f, w);
    if (stride1) {
      // Stride 1: dx is the convolution of dy with the flipped filter, in/out channels swapped.
      const Geom t = {g.n, g.oh, g.ow, co, g.h, g.w, g.ci, g.kh, g.kw, 1, 1, 1, 1, g.kh - 1 - g.top, g.kw - 1 - g.left};
      run_conv_direct(&t, d, w, NULL, 0, zero, dx);
    } else if (!backprop_input_phases(&g, d, w, dx)) {
      napi_throw_error(env, NULL, "ff_native.conv2dBackpropInput: out of memory");
      return NULL;
    }
    return NULL;
  }
  if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, k, co, 1.f, d, co, f, co, 0.f, dx, k);
    return NULL;
  }
  memset(dx, 0, ldx * sizeof(float));
  const int step = chunk_rows(k);
  float *p = get_scratch((size_t)(step < rows ? step : rows) * k);
  if (p == NULL) {
    napi_throw_error(env, NULL, "ff_native.conv2dBackpropInput: out of memory");
    return NULL;
  }
  for (int m0 = 0; m0 < rows; m0 += step) {
    const int m1 = m0 + step < rows ? m0 + step : rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m1 - m0, k, co, 1.f, d + (size_t)m0 * co, co, f, co, 0.f,
                p, k);
    col2im(&g, p, dx, m0, m1);
  }
  return NULL;
}

// Max-pool gradient, vectorised over channels: each window's dy goes to its
// first maximum in row-major window order (strict >, NaN never wins), like
// tfjs's cpu backend. best/arg hold one value per channel.
__attribute__((target_clones("avx2", "default")))
static void max_pool_grad_body(const Geom *g, const float *restrict dy, const float *restrict x, float *restrict dx,
                               float *restrict best, int32_t *restrict arg, int b_begin, int b_end) {
  const int c = g->ci;
  for (int b = b_begin; b < b_end; b++) {
    const float *xb = x + (size_t)b * g->h * g->w * c;
    float *dxb = dx + (size_t)b * g->h * g->w * c;
    for (int r = 0; r < g->oh; r++) {
      const int r0 = r * g->sh - g->top < 0 ? 0 : r * g->sh - g->top;
      const int r1 = r * g->sh - g->top + g->kh > g->h ? g->h : r * g->sh - g->top + g->kh;
      for (int q = 0; q < g->ow; q++) {
        const int q0 = q * g->sw - g->left < 0 ? 0 : q * g->sw - g->left;
        const int q1 = q * g->sw - g->left + g->kw > g->w ? g->w : q * g->sw - g->left + g->kw;
        for (int t = 0; t < c; t++) {
          best[t] = -__builtin_inff();
          arg[t] = -1;
        }
        for (int i = r0; i < r1; i++) {
          for (int j = q0; j < q1; j++) {
            const int p = (i * g->w + j) * c;
            const float *xp = xb + p;
            for (int t = 0; t < c; t++) {
              const int better = xp[t] > best[t];
              best[t] = better ? xp[t] : best[t];
              arg[t] = better ? p + t : arg[t];
            }
          }
        }
        const float *gy = dy + (((size_t)b * g->oh + r) * g->ow + q) * c;
        for (int t = 0; t < c; t++)
          if (arg[t] >= 0) dxb[arg[t]] += gy[t];
      }
    }
  }
}

// maxPoolGrad(dy, x, dx, geom with ci = channels, kh×kw = window).
static napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *dy, *x, *dx;
  size_t ldy, lx, ldx;
  Geom g;
  if (argc != 4 || !typed(env, argv[0], &dy, &ldy) || !typed(env, argv[1], &x, &lx) ||
      !typed(env, argv[2], &dx, &ldx) || !geom(env, argv[3], &g) || (size_t)g.h * g.w * g.ci > INT32_MAX ||
      lx != (size_t)g.n * g.h * g.w * g.ci || ldx != lx || ldy != (size_t)g.n * g.oh * g.ow * g.ci) {
    napi_throw_error(env, NULL, "ff_native.maxPoolGrad: bad arguments");
    return NULL;
  }
  memset(dx, 0, ldx * sizeof(float));
  const int nt = g.n < threads ? g.n : threads;
  int failed = 0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) reduction(| : failed)
  for (int part = 0; part < nt; part++) {
    float *best = malloc(g.ci * sizeof(float));
    int32_t *arg = malloc(g.ci * sizeof(int32_t));
    if (best != NULL && arg != NULL) max_pool_grad_body(&g, dy, x, dx, best, arg, g.n * part / nt, g.n * (part + 1) / nt);
    else failed = 1;
    free(best);
    free(arg);
  }
  if (failed) napi_throw_error(env, NULL, "ff_native.maxPoolGrad: out of memory");
  return NULL;
}

__attribute__((target_clones("avx2", "default")))
static void add_bias_body(const float *restrict x, const float *restrict bias, float *restrict out, size_t rows,
                          size_t cols) {
  for (size_t r = 0; r < rows; r++, x += cols, out += cols)
    for (size_t c = 0; c < cols; c++) out[c] = x[c] + bias[c];
}

// addBias(x, bias, out): out = x + bias broadcast over the last axis.
static napi_value add_bias(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *xv, *bv, *ov;
  size_t lx, lb, lo;
  if (argc != 3 || !typed(env, argv[0], &xv, &lx) || !typed(env, argv[1], &bv, &lb) ||
      !typed(env, argv[2], &ov, &lo) || lb == 0 || lx % lb != 0 || lo != lx) {
    napi_throw_error(env, NULL, "ff_native.addBias: bad arguments");
    return NULL;
  }
  add_bias_body(xv, bv, ov, lx / lb, lb);
  return NULL;
}

__attribute__((target_clones("avx2", "default")))
static void bias_op_body(const float *restrict x, const float *restrict v, float *restrict out, size_t rows,
                         size_t cols, int op) {
  for (size_t r = 0; r < rows; r++, x += cols, out += cols) {
    if (op == 2)
      for (size_t c = 0; c < cols; c++) out[c] = x[c] * v[c];
    else if (op == 1)
      for (size_t c = 0; c < cols; c++) out[c] = x[c] - v[c];
    else
      for (size_t c = 0; c < cols; c++) out[c] = v[c] - x[c];
  }
}

// biasOp(x, v, out, op): v broadcast over x's last axis; op 1 x − v, 2 x · v, 3 v − x.
static napi_value bias_op(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *xv, *bv, *ov;
  size_t lx, lb, lo;
  int32_t op;
  if (argc != 4 || !typed(env, argv[0], &xv, &lx) || !typed(env, argv[1], &bv, &lb) ||
      !typed(env, argv[2], &ov, &lo) || napi_get_value_int32(env, argv[3], &op) != napi_ok || lb == 0 ||
      lx % lb != 0 || lo != lx || op < 1 || op > 3) {
    napi_throw_error(env, NULL, "ff_native.biasOp: bad arguments");
    return NULL;
  }
  bias_op_body(xv, bv, ov, lx / lb, lb, op);
  return NULL;
}

// bnReduce(dy, x, mean, sumDy, sumDyXc): per channel (last axis) Σ dy and Σ dy·(x − mean),
// in double (BatchNorm's gradient; one pass instead of a subtraction, a product and two sums).
// Σ dy and Σ dy·(x − mean) per column in double, rows read in order (one sequential pass; a
// column block at a time re-read the tensor cols/64 times with a stride of a row).
__attribute__((target_clones("avx512f", "avx2", "default")))
static void bn_reduce_body(const float *restrict dy, const float *restrict x, const float *restrict mean,
                           double *restrict acc1, double *restrict acc2, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *d = dy + r * cols, *xr = x + r * cols;
    for (size_t t = 0; t < cols; t++) {
      acc1[t] += d[t];
      acc2[t] += d[t] * (xr[t] - mean[t]);
    }
  }
}

static napi_value bn_reduce(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *a[5];
  size_t len[5];
  int ok = argc == 5;
  for (int i = 0; ok && i < 5; i++) ok = typed(env, argv[i], &a[i], &len[i]) && a[i] != NULL;
  if (!ok || len[1] != len[0] || len[2] == 0 || len[0] % len[2] != 0 || len[3] != len[2] || len[4] != len[2]) {
    napi_throw_error(env, NULL, "ff_native.bnReduce: bad arguments");
    return NULL;
  }
  const float *dy = a[0], *x = a[1], *mean = a[2];
  float *s1 = a[3], *s2 = a[4];
  const size_t cols = len[2], rows = len[0] / cols;
  double *acc = calloc(2 * cols, sizeof(double));
  if (acc == NULL) {
    napi_throw_error(env, NULL, "ff_native.bnReduce: out of memory");
    return NULL;
  }
  bn_reduce_body(dy, x, mean, acc, acc + cols, rows, cols);
  for (size_t t = 0; t < cols; t++) {
    s1[t] = (float)acc[t];
    s2[t] = (float)acc[cols + t];
  }
  free(acc);
  return NULL;
}

// fillRows(v, out, divisor): out[r, c] = v[c] / divisor for every row (the gradient of a
// mean over leading axes: dy spread evenly over the reduced elements).
static napi_value fill_rows(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *vv, *ov;
  size_t lv, lo;
  double divisor;
  if (argc != 3 || !typed(env, argv[0], &vv, &lv) || !typed(env, argv[1], &ov, &lo) ||
      napi_get_value_double(env, argv[2], &divisor) != napi_ok || lv == 0 || lo % lv != 0) {
    napi_throw_error(env, NULL, "ff_native.fillRows: bad arguments");
    return NULL;
  }
  const float *v = vv;
  float *out = ov;
  const float d = (float)divisor;
  for (size_t c = 0; c < lv; c++) out[c] = v[c] / d;
  for (size_t r = 1; r < lo / lv; r++) memcpy(out + r * lv, out, lv * sizeof(float));
  return NULL;
}

__attribute__((target_clones("avx2", "default")))
static void binary_body(const float *restrict a, const float *restrict b, float *restrict out, size_t n, int op) {
  switch (op) {
    case 0: for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i]; break;
    case 1: for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i]; break;
    case 2: for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i]; break;
    // ReLU gradient: dy · step(x) (step(NaN) = NaN, as tfjs); masks, not branches (x's sign is random).
    case 3:
    case 4: {
      const v16 one = (v16){0} + 1.f, six = (v16){0} + 6.f;
      size_t i = 0;
      for (; i + 16 <= n; i += 16) {
        const v16 x = load16(b + i), d = load16(a + i);
        i16 on = (i16)(x > (v16){0});
        if (op == 4) on &= (i16)(x <= six);
        const i16 nan = (i16)(x != x);
        const v16 st = (v16)(((i16)one & on & ~nan) | ((i16)x & nan));
        const v16 r = d * st;
        memcpy(out + i, &r, sizeof r);
      }
      for (; i < n; i++) {
        const float x = b[i];
        out[i] = a[i] * (x != x ? x : (x > 0.f && (op == 3 || x <= 6.f)) ? 1.f : 0.f);
      }
      break;
    }
    // Square gradient: dy · (x · 2).
    case 5: for (size_t i = 0; i < n; i++) out[i] = a[i] * (b[i] * 2.f); break;
    default: break;
  }
}

// binary(a, b, out, op): element-wise over equal lengths; op 0 add, 1 sub, 2 mul,
// 3 ReLU gradient (a = dy, b = x), 4 ReLU6 gradient, 5 Square gradient.
static napi_value binary(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *av, *bv, *ov;
  size_t la, lb, lo;
  int32_t op;
  if (argc != 4 || !typed(env, argv[0], &av, &la) || !typed(env, argv[1], &bv, &lb) ||
      !typed(env, argv[2], &ov, &lo) || napi_get_value_int32(env, argv[3], &op) != napi_ok || la != lb || lo != la ||
      op < 0 || op > 5) {
    napi_throw_error(env, NULL, "ff_native.binary: bad arguments");
    return NULL;
  }
  binary_body(av, bv, ov, la, op);
  return NULL;
}

// (x − mean) · k + c per channel, rows × cols. Centring first, not x · k − mean · k: when a
// channel's mean is large against its spread (BatchNorm in training on a small batch) the
// folded form cancels catastrophically in float32 and the gradients drift (seen: 6e-3 of
// their scale on ResNet-18 against PyTorch).
__attribute__((target_clones("avx512f", "avx2", "default")))
static void bn_body(const float *restrict x, const float *restrict m, const float *restrict k, const float *restrict c,
                    float *restrict out, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++, x += cols, out += cols)
    for (size_t t = 0; t < cols; t++) out[t] = (x[t] - m[t]) * k[t] + c[t];
}

// The same followed by ReLU (NaN kept, as tfjs's cpu backend does): BatchNorm + ReLU in inference, one pass.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void bn_relu_body(const float *restrict x, const float *restrict m, const float *restrict k, const float *restrict c,
                         float *restrict out, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++, x += cols, out += cols)
    for (size_t t = 0; t < cols; t++) {
      const float v = (x[t] - m[t]) * k[t] + c[t];
      out[t] = v < 0.f ? 0.f : v;
    }
}

// batchNorm(x, mean, variance, offset|null, scale|null, out, epsilon[, relu]): per channel (last axis)
// out = (x − mean) · scale / √(variance + ε) + offset, as (x − mean) · k + c with k, c per channel;
// then max(0, ·) when relu is true.
static napi_value batch_norm(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *a[6];
  size_t len[6];
  double eps;
  bool relu = false;
  int ok = (argc == 7 || argc == 8) && napi_get_value_double(env, argv[6], &eps) == napi_ok &&
           (argc == 7 || napi_get_value_bool(env, argv[7], &relu) == napi_ok);
  for (int i = 0; ok && i < 6; i++) ok = typed(env, argv[i], &a[i], &len[i]);
  const size_t cols = ok ? len[1] : 0;
  ok = ok && a[0] != NULL && a[1] != NULL && a[2] != NULL && a[5] != NULL && cols > 0 && len[0] % cols == 0 &&
       len[2] == cols && (a[3] == NULL || len[3] == cols) && (a[4] == NULL || len[4] == cols) && len[5] == len[0];
  if (!ok) {
    napi_throw_error(env, NULL, "ff_native.batchNorm: bad arguments");
    return NULL;
  }
  float *k = get_scratch(2 * cols);
  if (k == NULL) {
    napi_throw_error(env, NULL, "ff_native.batchNorm: out of memory");
    return NULL;
  }
  const float *mean = a[1], *var = a[2], *off = a[3], *scale = a[4];
  float *c = k + cols;
  for (size_t t = 0; t < cols; t++) {
    k[t] = (scale != NULL ? scale[t] : 1.f) / sqrtf(var[t] + (float)eps);
    c[t] = off != NULL ? off[t] : 0.f;
  }
  if (relu) bn_relu_body(a[0], mean, k, c, a[5], len[0] / cols, cols);
  else bn_body(a[0], mean, k, c, a[5], len[0] / cols, cols);
  return NULL;
}

// Depthwise convolution gradients, channel multiplier 1 (MobileNetV2), vectorised over
// channels: geometry as Geom with co = ci. dx is zeroed and accumulated; dw likewise.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void dw_depthwise_input(const Geom *g, const float *restrict dy, const float *restrict w, float *restrict dx) {
  const int c = g->ci;
  memset(dx, 0, (size_t)g->n * g->h * g->w * c * sizeof(float));
  for (int b = 0; b < g->n; b++)
    for (int r = 0; r < g->oh; r++)
      for (int q = 0; q < g->ow; q++) {
        const float *d = dy + (((size_t)b * g->oh + r) * g->ow + q) * c;
        for (int a = 0; a < g->kh; a++) {
          const int i = r * g->sh - g->top + a * g->dh;
          if (i < 0 || i >= g->h) continue;
          for (int e = 0; e < g->kw; e++) {
            const int j = q * g->sw - g->left + e * g->dw;
            if (j < 0 || j >= g->w) continue;
            float *o = dx + (((size_t)b * g->h + i) * g->w + j) * c;
            const float *wt = w + (size_t)(a * g->kw + e) * c;
            for (int t = 0; t < c; t++) o[t] += d[t] * wt[t];
          }
        }
      }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void dw_depthwise_filter(const Geom *g, const float *restrict x, const float *restrict dy, float *restrict dw) {
  const int c = g->ci;
  memset(dw, 0, (size_t)g->kh * g->kw * c * sizeof(float));
  for (int b = 0; b < g->n; b++)
    for (int r = 0; r < g->oh; r++)
      for (int q = 0; q < g->ow; q++) {
        const float *d = dy + (((size_t)b * g->oh + r) * g->ow + q) * c;
        for (int a = 0; a < g->kh; a++) {
          const int i = r * g->sh - g->top + a * g->dh;
          if (i < 0 || i >= g->h) continue;
          for (int e = 0; e < g->kw; e++) {
            const int j = q * g->sw - g->left + e * g->dw;
            if (j < 0 || j >= g->w) continue;
            const float *xp = x + (((size_t)b * g->h + i) * g->w + j) * c;
            float *o = dw + (size_t)(a * g->kw + e) * c;
            for (int t = 0; t < c; t++) o[t] += xp[t] * d[t];
          }
        }
      }
}

// depthwiseBackprop(which, a, b, out, geom): which 0 = input gradient (a = dy, b = filter,
// out = dx), 1 = filter gradient (a = x, b = dy, out = dw); multiplier 1 (co = ci).
static napi_value depthwise_backprop(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t which;
  void *a, *b, *o;
  size_t la, lb, lo;
  Geom g;
  if (argc != 5 || napi_get_value_int32(env, argv[0], &which) != napi_ok || !typed(env, argv[1], &a, &la) ||
      !typed(env, argv[2], &b, &lb) || !typed(env, argv[3], &o, &lo) || !geom(env, argv[4], &g) || g.co != g.ci ||
      g.n <= 0) {
    napi_throw_error(env, NULL, "ff_native.depthwiseBackprop: bad arguments");
    return NULL;
  }
  const size_t nx = (size_t)g.n * g.h * g.w * g.ci, ny = (size_t)g.n * g.oh * g.ow * g.ci, nw = (size_t)g.kh * g.kw * g.ci;
  if (which == 0 && la == ny && lb == nw && lo == nx) dw_depthwise_input(&g, a, b, o);
  else if (which == 1 && la == nx && lb == ny && lo == nw) dw_depthwise_filter(&g, a, b, o);
  else napi_throw_error(env, NULL, "ff_native.depthwiseBackprop: sizes do not match the geometry");
  return NULL;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void clip_grad_body(const float *restrict dy, const float *restrict x, float *restrict out, size_t n, float lo,
                           float hi) {
  for (size_t i = 0; i < n; i++) out[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0.f;
}

// clipGrad(dy, x, out, min, max): dy where min ≤ x ≤ max, else 0 (NaN x: 0), as tfjs's ClipByValue gradient.
static napi_value clip_grad(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *d, *x, *o;
  size_t ld, lx, lo;
  double mn, mx;
  if (argc != 5 || !typed(env, argv[0], &d, &ld) || !typed(env, argv[1], &x, &lx) || !typed(env, argv[2], &o, &lo) ||
      napi_get_value_double(env, argv[3], &mn) != napi_ok || napi_get_value_double(env, argv[4], &mx) != napi_ok ||
      ld != lx || lo != lx) {
    napi_throw_error(env, NULL, "ff_native.clipGrad: bad arguments");
    return NULL;
  }
  clip_grad_body(d, x, o, lx, (float)mn, (float)mx);
  return NULL;
}

// sumRows(x, out, rows, cols): out[c] = Σ_r x[r, c] (a sum over leading axes).
// Column sums in double, rows read in order (one sequential pass).
__attribute__((target_clones("avx512f", "avx2", "default")))
static void sum_rows_body(const float *restrict x, double *restrict acc, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    for (size_t t = 0; t < cols; t++) acc[t] += row[t];
  }
}

// slice(x, out, shape, begin, size): out = x[begin : begin + size] over every axis (float32,
// row-major); the caller merges trailing axes taken whole, so each copy is one contiguous run.
static napi_value slice(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *xv, *ov, *sv, *bv, *zv;
  size_t lx, lo, ls, lb, lz;
  int ok = argc == 5 && typed(env, argv[0], &xv, &lx) && typed(env, argv[1], &ov, &lo) &&
           typed_as(env, argv[2], napi_int32_array, &sv, &ls) && typed_as(env, argv[3], napi_int32_array, &bv, &lb) &&
           typed_as(env, argv[4], napi_int32_array, &zv, &lz) && ls >= 1 && ls <= 8 && lb == ls && lz == ls;
  const int32_t *shape = sv, *begin = bv, *size = zv;
  size_t in = 1, outn = 1;
  for (size_t d = 0; ok && d < ls; d++) {
    ok = begin[d] >= 0 && size[d] >= 0 && begin[d] + size[d] <= shape[d];
    in *= (size_t)shape[d];
    outn *= (size_t)size[d];
  }
  if (!ok || in != lx || outn != lo) {
    napi_throw_error(env, NULL, "ff_native.slice: bad arguments");
    return NULL;
  }
  if (outn == 0) return NULL;
  const float *x = xv;
  float *out = ov;
  const int r = (int)ls;
  size_t stride[8];
  stride[r - 1] = 1;
  for (int d = r - 2; d >= 0; d--) stride[d] = stride[d + 1] * (size_t)shape[d + 1];
  const size_t run = (size_t)size[r - 1], rowsn = outn / run;
  int idx[8] = {0};
  for (size_t k = 0; k < rowsn; k++) {
    size_t off = (size_t)begin[r - 1];
    for (int d = 0; d < r - 1; d++) off += (size_t)(begin[d] + idx[d]) * stride[d];
    memcpy(out + k * run, x + off, run * sizeof(float));
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return NULL;
}

static napi_value sum_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *xv, *ov;
  size_t lx, lo;
  int32_t rows, cols;
  if (argc != 4 || !typed(env, argv[0], &xv, &lx) || !typed(env, argv[1], &ov, &lo) ||
      napi_get_value_int32(env, argv[2], &rows) != napi_ok || napi_get_value_int32(env, argv[3], &cols) != napi_ok ||
      (size_t)rows * cols > lx || (size_t)cols > lo) {
    napi_throw_error(env, NULL, "ff_native.sumRows: bad arguments");
    return NULL;
  }
  const float *x = xv;
  float *out = ov;
  // Accumulated in double: sums of ~10⁵ floats stay within 1e-6.
  double *acc = calloc(cols > 0 ? cols : 1, sizeof(double));
  if (acc == NULL) {
    napi_throw_error(env, NULL, "ff_native.sumRows: out of memory");
    return NULL;
  }
  sum_rows_body(x, acc, rows, cols);
  for (int t = 0; t < cols; t++) out[t] = (float)acc[t];
  free(acc);
  return NULL;
}

// One AdamW step (PyTorch's torch.optim.AdamW, the float32 operations of
// src/main/engine/fission/adamw.ts in the same order): h = [β1, 1 − β1, β2, 1 − β2,
// √(1 − β2^t), ε, 1 − lr·weight decay, lr / (1 − β1^t)]; writes p1, m1, v1.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void adamw_body(const float *restrict p, const float *restrict g, const float *restrict m,
                       const float *restrict v, float *restrict p1, float *restrict m1, float *restrict v1, size_t len,
                       const float *h) {
  const float b1 = h[0], ob1 = h[1], b2 = h[2], ob2 = h[3], sbc2 = h[4], eps = h[5], decay = h[6], step = h[7];
  for (size_t i = 0; i < len; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    const float denom = sqrtf(vi) / sbc2 + eps;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p[i] * decay - (mi / denom) * step;
  }
}

// adamw(p, g, m, v, p1, m1, v1, h): see adamw_body.
static napi_value adamw(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *a[8];
  size_t len[8];
  int ok = argc == 8;
  for (int i = 0; ok && i < 8; i++) ok = typed(env, argv[i], &a[i], &len[i]) && a[i] != NULL;
  for (int i = 1; ok && i < 7; i++) ok = len[i] == len[0];
  if (!ok || len[7] != 8) {
    napi_throw_error(env, NULL, "ff_native.adamw: bad arguments");
    return NULL;
  }
  adamw_body(a[0], a[1], a[2], a[3], a[4], a[5], a[6], len[0], a[7]);
  return NULL;
}

// setThreads(n): threads of the matrix products.
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_error(env, NULL, "ff_native.setThreads: expected a whole number >= 1");
    return NULL;
  }
  openblas_set_num_threads(n);
  threads = n;
  return NULL;
}

static napi_value blas_config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value simd(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  CHECK(napi_create_string_utf8(env, simd_name, NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  pick_simd();
  const napi_property_descriptor props[] = {
    {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropFilter", NULL, conv2d_backprop_filter, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropInput", NULL, conv2d_backprop_input, NULL, NULL, NULL, napi_default, NULL},
    {"maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_default, NULL},
    {"addBias", NULL, add_bias, NULL, NULL, NULL, napi_default, NULL},
    {"biasOp", NULL, bias_op, NULL, NULL, NULL, napi_default, NULL},
    {"bnReduce", NULL, bn_reduce, NULL, NULL, NULL, napi_default, NULL},
    {"batchNorm", NULL, batch_norm, NULL, NULL, NULL, napi_default, NULL},
    {"clipGrad", NULL, clip_grad, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseBackprop", NULL, depthwise_backprop, NULL, NULL, NULL, napi_default, NULL},
    {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
    {"fillRows", NULL, fill_rows, NULL, NULL, NULL, napi_default, NULL},
    {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_default, NULL},
    {"slice", NULL, slice, NULL, NULL, NULL, napi_default, NULL},
    {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"blasConfig", NULL, blas_config, NULL, NULL, NULL, napi_default, NULL},
    {"simd", NULL, simd, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
