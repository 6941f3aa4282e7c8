// C + OpenBLAS side of the benchmark cases (one thread): <binary> <bench> <dir>, built by
// bench/cases/external.mjs with `gcc -O3 -march=native ... -lopenblas`. <dir> holds manifest.json and
// one raw float32 file per input, written from the same seeded arrays every framework gets. The
// products are cblas_sgemm; everything else is plain loops, as a hand-written C training step would
// be. Times the case with the protocol of bench/cases/common.mjs and prints one JSON line.
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *dir;
/** "OpenBLAS 0.3.21" (OPENBLAS_VERSION without its padding). */
static char blas[64];

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float *load(const char *name, size_t count) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.f32", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("{\"error\":\"cannot open %s\"}\n", path);
    exit(0);
  }
  float *data = malloc(count * sizeof(float));
  size_t got = fread(data, sizeof(float), count, f);
  fclose(f);
  if (got != count) {
    printf("{\"error\":\"%s: %zu values, expected %zu\"}\n", path, got, count);
    exit(0);
  }
  return data;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double median, min, max;
  int runs;
} Stats;

static Stats measure(double (*fn)(void), int warmup, double warmup_ms, int max_runs, double budget_ms) {
  double start = now_ms();
  for (int i = 0; i < warmup || now_ms() - start < warmup_ms; i++) fn();
  double *samples = malloc(sizeof(double) * max_runs);
  int n = 0;
  start = now_ms();
  while (n < max_runs && (n < 3 || now_ms() - start < budget_ms)) {
    double t0 = now_ms();
    fn();
    samples[n++] = now_ms() - t0;
  }
  qsort(samples, n, sizeof(double), cmp);
  Stats s = {n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2, samples[0], samples[n - 1], n};
  free(samples);
  return s;
}

/** The training-step protocol of common.mjs's timeTrainingStep; prints the JSON line. */
static void time_training_step(int batch, double (*step)(void)) {
  double t0 = now_ms();
  double first_loss = step();
  double first_ms = now_ms() - t0;
  double after = step();
  Stats s = measure(step, 3, 1500, 41, 12000);
  int calls = 0;
  double start = now_ms();
  while (calls < 3 || now_ms() - start < 5000) {
    step();
    calls++;
  }
  double elapsed = now_ms() - start, mean = elapsed / calls;
  printf(
      "{\"backend\":\"C + %s, 1 thread\",\"batch\":%d,\"firstStepMs\":%.6f,\"firstLoss\":%.9g,"
      "\"lossAfterOneStep\":%.9g,\"samplesPerSecond\":%.3f,\"sustainedSamplesPerSecond\":%.3f,"
      "\"medianMs\":%.6f,\"minMs\":%.6f,\"maxMs\":%.6f,\"runs\":%d,\"sustainedMeanMs\":%.6f,"
      "\"sustainedCalls\":%d,\"sustainedSeconds\":%.3f}\n",
      blas, batch, first_ms, first_loss, after, batch * 1000 / s.median, batch * 1000 / mean, s.median,
      s.min, s.max, s.runs, mean, calls, elapsed / 1000);
}

// ---------------------------------------------------------------------------------------------
// matmul n×n · n×n

static int mm_n;
static float *mm_a, *mm_b, *mm_c;
static double mm_call(void) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm_n, mm_n, mm_n, 1, mm_a, mm_n, mm_b, mm_n, 0, mm_c, mm_n);
  return 0;
}

static void case_matmul(void) {
  static const int sizes[] = {128, 256, 512, 1024};
  double checksum = 0;
  printf("{\"backend\":\"C + %s, 1 thread\",\"results\":[", blas);
  for (int i = 0; i < 4; i++) {
    int n = mm_n = sizes[i];
    char name[16];
    snprintf(name, sizeof name, "a%d", n);
    mm_a = load(name, (size_t)n * n);
    snprintf(name, sizeof name, "b%d", n);
    mm_b = load(name, (size_t)n * n);
    mm_c = malloc(sizeof(float) * n * n);
    if (i == 0) {
      mm_call();
      for (int j = 0; j < n * n; j++) checksum += (double)mm_c[j] * (1 + j % 13);
    }
    Stats s = n >= 1024 ? measure(mm_call, 1, 0, 5, 8000) : measure(mm_call, 3, 0, n <= 256 ? 31 : 11, 4000);
    printf("%s{\"n\":%d,\"gflops\":%.4f,\"medianMs\":%.6f,\"minMs\":%.6f,\"maxMs\":%.6f,\"runs\":%d}", i ? "," : "",
           n, 2.0 * n * n * n / (s.median * 1e6), s.median, s.min, s.max, s.runs);
    free(mm_a), free(mm_b), free(mm_c);
  }
  printf("],\"checksum\":%.10g}\n", checksum);
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy against one-hot labels, averaged over the batch: returns the loss and
// writes its gradient with respect to the logits.

static double softmax_xent(const float *logits, const float *labels, float *grad, int batch, int classes) {
  double total = 0;
  for (int i = 0; i < batch; i++) {
    const float *z = logits + i * classes;
    float m = -FLT_MAX;
    for (int c = 0; c < classes; c++) m = z[c] > m ? z[c] : m;
    double sum = 0;
    for (int c = 0; c < classes; c++) sum += exp((double)z[c] - m);
    double lse = m + log(sum);
    for (int c = 0; c < classes; c++) {
      double p = exp((double)z[c] - lse);
      total -= labels[i * classes + c] * ((double)z[c] - lse);
      grad[i * classes + c] = (float)((p - labels[i * classes + c]) / batch);
    }
  }
  return total / batch;
}

static void add_bias(float *y, const float *b, int rows, int cols) {
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) y[i * cols + j] += b[j];
}
static void relu(float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
}
/** dy ← dy · (y > 0) */
static void relu_grad(float *dy, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) dy[i] = y[i] > 0 ? dy[i] : 0;
}
static void column_sums(const float *g, float *out, int rows, int cols) {
  memset(out, 0, sizeof(float) * cols);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) out[j] += g[i * cols + j];
}
static void sgd(float *p, const float *g, size_t n, float lr) {
  for (size_t i = 0; i < n; i++) p[i] -= lr * g[i];
}

// ---------------------------------------------------------------------------------------------
// MLP 784-256-128-10, relu, batch 128, SGD. Weights [in, out] as the jax-js/TF.js side.

#define MLP_LAYERS 3
static const int mlp_sizes[] = {784, 256, 128, 10};
static int mlp_batch;
static float mlp_lr;
static float *mlp_x, *mlp_labels, *mlp_w[MLP_LAYERS], *mlp_b[MLP_LAYERS], *mlp_act[MLP_LAYERS + 1],
    *mlp_dact[MLP_LAYERS + 1], *mlp_gw[MLP_LAYERS], *mlp_gb[MLP_LAYERS];

static double mlp_step(void) {
  int B = mlp_batch;
  mlp_act[0] = mlp_x;
  for (int l = 0; l < MLP_LAYERS; l++) {
    int in = mlp_sizes[l], out = mlp_sizes[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1, mlp_act[l], in, mlp_w[l], out, 0,
                mlp_act[l + 1], out);
    add_bias(mlp_act[l + 1], mlp_b[l], B, out);
    if (l < MLP_LAYERS - 1) relu(mlp_act[l + 1], (size_t)B * out);
  }
  double loss = softmax_xent(mlp_act[MLP_LAYERS], mlp_labels, mlp_dact[MLP_LAYERS], B, mlp_sizes[MLP_LAYERS]);
  for (int l = MLP_LAYERS - 1; l >= 0; l--) {
    int in = mlp_sizes[l], out = mlp_sizes[l + 1];
    // gW = aᵀ · d, gb = Σ d, d_prev = d · Wᵀ masked by the previous ReLU (not for the input).
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, B, 1, mlp_act[l], in, mlp_dact[l + 1], out, 0,
                mlp_gw[l], out);
    column_sums(mlp_dact[l + 1], mlp_gb[l], B, out);
    if (l > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1, mlp_dact[l + 1], out, mlp_w[l], out, 0,
                  mlp_dact[l], in);
      relu_grad(mlp_dact[l], mlp_act[l], (size_t)B * in);
    }
  }
  for (int l = 0; l < MLP_LAYERS; l++) {
    sgd(mlp_w[l], mlp_gw[l], (size_t)mlp_sizes[l] * mlp_sizes[l + 1], mlp_lr);
    sgd(mlp_b[l], mlp_gb[l], mlp_sizes[l + 1], mlp_lr);
  }
  return loss;
}

static void case_mlp(int batch, float lr) {
  mlp_batch = batch, mlp_lr = lr;
  mlp_x = load("x", (size_t)batch * mlp_sizes[0]);
  mlp_labels = load("labels", (size_t)batch * mlp_sizes[MLP_LAYERS]);
  for (int l = 0; l < MLP_LAYERS; l++) {
    char name[8];
    int in = mlp_sizes[l], out = mlp_sizes[l + 1];
    snprintf(name, sizeof name, "w%d", l);
    mlp_w[l] = load(name, (size_t)in * out);
    snprintf(name, sizeof name, "b%d", l);
    mlp_b[l] = load(name, out);
    mlp_act[l + 1] = malloc(sizeof(float) * batch * out);
    mlp_dact[l + 1] = malloc(sizeof(float) * batch * out);
    mlp_gw[l] = malloc(sizeof(float) * in * out);
    mlp_gb[l] = malloc(sizeof(float) * out);
  }
  mlp_dact[0] = NULL;
  for (int l = 1; l < MLP_LAYERS; l++) mlp_dact[l] = malloc(sizeof(float) * batch * mlp_sizes[l]);
  time_training_step(batch, mlp_step);
}

// ---------------------------------------------------------------------------------------------
// CNN: 1×28×28 → conv 8@3×3 → relu → maxpool 2 → conv 16@3×3 → relu → maxpool 2 → dense 10 ([400, 10],
// rows in NCHW flatten order), batch 32, SGD. Convolutions per example as im2col + sgemm.

static int cnn_batch;
static float cnn_lr;
static float *cnn_x, *cnn_labels, *c1, *b1, *c2, *b2, *dw, *db;
static float *cy1, *p1, *cy2, *p2, *logits, *dlogits, *dp2, *dy2, *dp1, *dy1, *cols1, *cols2, *dcols2, *g_c1, *g_b1,
    *g_c2, *g_b2, *g_w, *g_b;
static int *arg1, *arg2;

/** cols[c·9 + kh·3 + kw][oh·ow + ow'] from x[c][h][w] (valid 3×3, stride 1). */
static void im2col(const float *x, int channels, int h, int w, float *cols) {
  int oh = h - 2, ow = w - 2;
  for (int c = 0; c < channels; c++)
    for (int kh = 0; kh < 3; kh++)
      for (int kw = 0; kw < 3; kw++) {
        float *row = cols + ((c * 3 + kh) * 3 + kw) * oh * ow;
        for (int i = 0; i < oh; i++)
          for (int j = 0; j < ow; j++) row[i * ow + j] = x[(c * h + i + kh) * w + j + kw];
      }
}
static void col2im(const float *cols, int channels, int h, int w, float *x) {
  int oh = h - 2, ow = w - 2;
  memset(x, 0, sizeof(float) * channels * h * w);
  for (int c = 0; c < channels; c++)
    for (int kh = 0; kh < 3; kh++)
      for (int kw = 0; kw < 3; kw++) {
        const float *row = cols + ((c * 3 + kh) * 3 + kw) * oh * ow;
        for (int i = 0; i < oh; i++)
          for (int j = 0; j < ow; j++) x[(c * h + i + kh) * w + j + kw] += row[i * ow + j];
      }
}
/** 2×2 max pool, stride 2, floor; remembers the argmax (first maximum) of each window. */
static void maxpool(const float *x, int channels, int h, int w, float *y, int *arg) {
  int oh = h / 2, ow = w / 2;
  for (int c = 0; c < channels; c++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        int best = (c * h + 2 * i) * w + 2 * j;
        for (int di = 0; di < 2; di++)
          for (int dj = 0; dj < 2; dj++) {
            int k = (c * h + 2 * i + di) * w + 2 * j + dj;
            if (x[k] > x[best]) best = k;
          }
        y[(c * oh + i) * ow + j] = x[best];
        arg[(c * oh + i) * ow + j] = best;
      }
}

static double cnn_step(void) {
  int B = cnn_batch;
  const int P1 = 26 * 26, Q1 = 13 * 13, P2 = 11 * 11, Q2 = 5 * 5, FLAT = 400;
  for (int n = 0; n < B; n++) {
    float *yy1 = cy1 + n * 8 * P1, *yy2 = cy2 + n * 16 * P2;
    im2col(cnn_x + n * 784, 1, 28, 28, cols1 + n * 9 * P1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 8, P1, 9, 1, c1, 9, cols1 + n * 9 * P1, P1, 0, yy1, P1);
    for (int c = 0; c < 8; c++)
      for (int p = 0; p < P1; p++) yy1[c * P1 + p] = fmaxf(yy1[c * P1 + p] + b1[c], 0);
    maxpool(yy1, 8, 26, 26, p1 + n * 8 * Q1, arg1 + n * 8 * Q1);
    im2col(p1 + n * 8 * Q1, 8, 13, 13, cols2 + n * 72 * P2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 16, P2, 72, 1, c2, 72, cols2 + n * 72 * P2, P2, 0, yy2,
                P2);
    for (int c = 0; c < 16; c++)
      for (int p = 0; p < P2; p++) yy2[c * P2 + p] = fmaxf(yy2[c * P2 + p] + b2[c], 0);
    maxpool(yy2, 16, 11, 11, p2 + n * FLAT, arg2 + n * FLAT);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, 10, FLAT, 1, p2, FLAT, dw, 10, 0, logits, 10);
  add_bias(logits, db, B, 10);
  double loss = softmax_xent(logits, cnn_labels, dlogits, B, 10);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, FLAT, 10, B, 1, p2, FLAT, dlogits, 10, 0, g_w, 10);
  column_sums(dlogits, g_b, B, 10);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, FLAT, 10, 1, dlogits, 10, dw, 10, 0, dp2, FLAT);
  memset(g_c1, 0, sizeof(float) * 72);
  memset(g_c2, 0, sizeof(float) * 16 * 72);
  memset(g_b1, 0, sizeof(float) * 8);
  memset(g_b2, 0, sizeof(float) * 16);
  for (int n = 0; n < B; n++) {
    float *yy1 = cy1 + n * 8 * P1, *yy2 = cy2 + n * 16 * P2;
    // Unpool into dy2 and mask by the ReLU.
    memset(dy2, 0, sizeof(float) * 16 * P2);
    for (int k = 0; k < FLAT; k++) dy2[arg2[n * FLAT + k]] += dp2[n * FLAT + k];
    for (int k = 0; k < 16 * P2; k++) dy2[k] = yy2[k] > 0 ? dy2[k] : 0;
    for (int c = 0; c < 16; c++)
      for (int p = 0; p < P2; p++) g_b2[c] += dy2[c * P2 + p];
    // gC2 += dy2 · cols2ᵀ; dcols2 = C2ᵀ · dy2 → dp1.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 16, 72, P2, 1, dy2, P2, cols2 + n * 72 * P2, P2, 1, g_c2, 72);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 72, P2, 16, 1, c2, 72, dy2, P2, 0, dcols2, P2);
    col2im(dcols2, 8, 13, 13, dp1);
    memset(dy1, 0, sizeof(float) * 8 * P1);
    for (int k = 0; k < 8 * Q1; k++) dy1[arg1[n * 8 * Q1 + k]] += dp1[k];
    for (int k = 0; k < 8 * P1; k++) dy1[k] = yy1[k] > 0 ? dy1[k] : 0;
    for (int c = 0; c < 8; c++)
      for (int p = 0; p < P1; p++) g_b1[c] += dy1[c * P1 + p];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 8, 9, P1, 1, dy1, P1, cols1 + n * 9 * P1, P1, 1, g_c1, 9);
  }
  sgd(c1, g_c1, 72, cnn_lr), sgd(b1, g_b1, 8, cnn_lr), sgd(c2, g_c2, 16 * 72, cnn_lr), sgd(b2, g_b2, 16, cnn_lr);
  sgd(dw, g_w, FLAT * 10, cnn_lr), sgd(db, g_b, 10, cnn_lr);
  return loss;
}

static void case_cnn(int batch, float lr) {
  cnn_batch = batch, cnn_lr = lr;
  cnn_x = load("x", (size_t)batch * 784);
  cnn_labels = load("labels", (size_t)batch * 10);
  c1 = load("c1", 72), b1 = load("b1", 8), c2 = load("c2", 16 * 72), b2 = load("b2", 16);
  dw = load("w", 4000), db = load("b", 10);
#define ALLOC(n) malloc(sizeof(float) * (size_t)(n))
  cy1 = ALLOC(batch * 8 * 676), p1 = ALLOC(batch * 8 * 169), cy2 = ALLOC(batch * 16 * 121), p2 = ALLOC(batch * 400);
  arg1 = malloc(sizeof(int) * batch * 8 * 169), arg2 = malloc(sizeof(int) * batch * 400);
  cols1 = ALLOC(batch * 9 * 676), cols2 = ALLOC(batch * 72 * 121), dcols2 = ALLOC(72 * 121);
  logits = ALLOC(batch * 10), dlogits = ALLOC(batch * 10), dp2 = ALLOC(batch * 400), dy2 = ALLOC(16 * 121);
  dp1 = ALLOC(8 * 169), dy1 = ALLOC(8 * 676);
  g_c1 = ALLOC(72), g_b1 = ALLOC(8), g_c2 = ALLOC(16 * 72), g_b2 = ALLOC(16), g_w = ALLOC(4000), g_b = ALLOC(10);
  time_training_step(batch, cnn_step);
}

/** A number after `"key":` in the manifest (a flat search: the keys used are unique). */
static double manifest_number(const char *text, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(text, pattern);
  return at ? atof(at + strlen(pattern)) : NAN;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <bench> <dir>\n", argv[0]);
    return 2;
  }
  dir = argv[2];
  openblas_set_num_threads(1);
  const char *v = OPENBLAS_VERSION;
  while (*v == ' ') v++;
  snprintf(blas, sizeof blas, "%s", v);
  for (size_t n = strlen(blas); n > 0 && blas[n - 1] == ' '; n--) blas[n - 1] = 0;
  char path[4096], text[65536] = {0};
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  FILE *f = fopen(path, "rb");
  if (!f || fread(text, 1, sizeof text - 1, f) == 0) {
    printf("{\"error\":\"cannot read %s\"}\n", path);
    return 0;
  }
  fclose(f);
  if (!strcmp(argv[1], "matmul"))
    case_matmul();
  else if (!strcmp(argv[1], "mlp"))
    case_mlp((int)manifest_number(text, "batch"), (float)manifest_number(text, "lr"));
  else if (!strcmp(argv[1], "cnn"))
    case_cnn((int)manifest_number(text, "batch"), (float)manifest_number(text, "lr"));
  else
    printf("{\"error\":\"no C + OpenBLAS version of the %s case\"}\n", argv[1]);
  return 0;
}
