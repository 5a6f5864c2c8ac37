/* A bundle's .tflite run the way an app runs it, on the TFLite C API (c_api.h), no Python anywhere.
 *
 *   tflite_consumer MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZERO_POINT OUT_SCALE OUT_ZERO_POINT WARMUP THREADS FILE...
 *
 * MODEL is the bundle's .tflite; INPUT_SHAPE (as 1,16000), SAMPLE_RATE, OUTPUT_NAME, the scales and zero points come
 * from its sidecar (a scale of 0: the tensor is float). Each FILE is a 16-bit PCM mono WAV at SAMPLE_RATE (decoded
 * here, scaled by 1/32768 to [-1, 1]; refused with the reason when it is not that or shorter than its header says) for
 * an end-to-end model, or raw little-endian float32 MFCCs (.f32) for a feature-input one; a quantized input is
 * quantized here, a quantized output dequantized here. Prints `version V`, `load_us N`, then per FILE one line:
 * `latency_us p0 p1 ...`. The XNNPACK delegate is in the library but not in its headers: declared below. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensorflow/lite/c/c_api.h"

typedef struct {  /* TF 2.9's TfLiteXNNPackDelegateOptions, padded: returned by value, sized by the library */
  int32_t num_threads;
  uint32_t flags;
  void *weights_cache;
  char reserved[64];
} XnnOptions;
extern XnnOptions TfLiteXNNPackDelegateOptionsDefault(void);
extern TfLiteDelegate *TfLiteXNNPackDelegateCreate(const XnnOptions *options);
extern void TfLiteXNNPackDelegateDelete(TfLiteDelegate *delegate);

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "tflite_consumer: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Samples of a 16-bit PCM mono WAV as floats in [-1, 1]: the RIFF chunks walked, `fmt ` and its rate checked. */
static size_t read_wav(const char *path, float *out, size_t n, uint32_t rate) {
  FILE *f = fopen(path, "rb");
  if (!f) fail("cannot open", path);
  unsigned char head[12], chunk[8], fmt[16];
  if (fread(head, 1, 12, f) != 12 || memcmp(head, "RIFF", 4) || memcmp(head + 8, "WAVE", 4))
    fail("not a RIFF/WAVE file", path);
  int pcm16 = 0;
  while (fread(chunk, 1, 8, f) == 8) {
    uint32_t size = le32(chunk + 4);
    if (!memcmp(chunk, "fmt ", 4)) {
      if (size < 16 || fread(fmt, 1, 16, f) != 16) fail("short fmt chunk", path);
      pcm16 = fmt[0] == 1 && fmt[1] == 0 && fmt[2] == 1 && fmt[14] == 16;  /* PCM, mono, 16 bits */
      if (le32(fmt + 4) != rate) {
        fprintf(stderr, "tflite_consumer: %s is sampled at %u Hz; the model takes %u Hz (resample it first)\n", path,
                le32(fmt + 4), rate);
        exit(1);
      }
      fseek(f, size - 16 + (size & 1), SEEK_CUR);
    } else if (!memcmp(chunk, "data", 4)) {
      if (!pcm16) fail("not 16-bit PCM mono", path);
      size_t count = size / 2 < n ? size / 2 : n;
      for (size_t i = 0; i < count; i++) {
        unsigned char s[2];
        if (fread(s, 1, 2, f) != 2) fail("truncated WAV (fewer samples than its data chunk declares)", path);
        out[i] = (int16_t)(s[0] | s[1] << 8) / 32768.0f;
      }
      fclose(f);
      return count;
    } else {
      fseek(f, size + (size & 1), SEEK_CUR);
    }
  }
  fail("no data chunk", path);
  return 0;
}

static size_t read_f32(const char *path, float *out, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) fail("cannot open", path);
  size_t count = fread(out, sizeof(float), n, f);
  fclose(f);
  return count;
}

static void set_input(TfLiteTensor *t, const float *x, size_t n, float scale, int zero_point) {
  if (TfLiteTensorType(t) == kTfLiteFloat32) {
    memcpy(TfLiteTensorData(t), x, n * sizeof(float));
  } else if (TfLiteTensorType(t) == kTfLiteInt8 && scale > 0) {
    int8_t *q = TfLiteTensorData(t);
    for (size_t i = 0; i < n; i++) {
      long v = lrintf(x[i] / scale) + zero_point;
      q[i] = v < -128 ? -128 : v > 127 ? 127 : v;
    }
  } else {
    fail("input type not handled (only float32 and int8 inputs)", NULL);
  }
}

static float output_value(const TfLiteTensor *t, size_t i, float scale, int zero_point) {
  switch (TfLiteTensorType(t)) {
    case kTfLiteFloat32: return ((const float *)TfLiteTensorData(t))[i];
    case kTfLiteInt8: return scale * (((const int8_t *)TfLiteTensorData(t))[i] - zero_point);
    case kTfLiteInt16: return scale * (((const int16_t *)TfLiteTensorData(t))[i] - zero_point);
    default: fail("output type not handled (only float32, int8 and int16 outputs)", NULL);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 12)
    fail("usage: MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZP OUT_SCALE OUT_ZP WARMUP THREADS FILE...", NULL);
  size_t expected = 1;
  for (char *dim = strtok(argv[2], ","); dim; dim = strtok(NULL, ",")) expected *= strtoul(dim, NULL, 10);
  uint32_t rate = strtoul(argv[3], NULL, 10);
  const char *output_name = argv[4];
  float in_scale = strtof(argv[5], NULL), out_scale = strtof(argv[7], NULL);
  int in_zp = atoi(argv[6]), out_zp = atoi(argv[8]), warmup = atoi(argv[9]), threads = atoi(argv[10]);
  printf("version %s\n", TfLiteVersion());

  double t0 = now_us();
  TfLiteModel *model = TfLiteModelCreateFromFile(argv[1]);
  if (!model) fail("the runtime cannot read the model", argv[1]);
  TfLiteInterpreterOptions *options = TfLiteInterpreterOptionsCreate();
  TfLiteInterpreterOptionsSetNumThreads(options, threads);
  TfLiteDelegate *delegate = NULL;
  if (!getenv("TFLITE_CONSUMER_NO_XNNPACK")) {  /* an app adds XNNPACK; unset only to tell a kernel's fault */
    XnnOptions xnn = TfLiteXNNPackDelegateOptionsDefault();
    xnn.num_threads = threads;
    delegate = TfLiteXNNPackDelegateCreate(&xnn);
    TfLiteInterpreterOptionsAddDelegate(options, delegate);
  }
  TfLiteInterpreter *it = TfLiteInterpreterCreate(model, options);
  if (!it) fail("the runtime cannot build an interpreter for", argv[1]);
  if (TfLiteInterpreterAllocateTensors(it) != kTfLiteOk) fail("AllocateTensors failed for", argv[1]);
  printf("load_us %.1f\n", now_us() - t0);

  TfLiteTensor *in = TfLiteInterpreterGetInputTensor(it, 0);
  size_t n = TfLiteTensorByteSize(in) / (TfLiteTensorType(in) == kTfLiteFloat32 ? 4 : 1);
  if (n != expected) fail("the input tensor's size is not the sidecar's shape", argv[2]);
  const TfLiteTensor *out = NULL;
  for (int i = 0; i < TfLiteInterpreterGetOutputTensorCount(it); i++)
    if (!strcmp(TfLiteTensorName(TfLiteInterpreterGetOutputTensor(it, i)), output_name))
      out = TfLiteInterpreterGetOutputTensor(it, i);
  if (!out) fail("no output tensor named", output_name);
  size_t classes = TfLiteTensorDim(out, TfLiteTensorNumDims(out) - 1);

  float *x = calloc(n, sizeof(float));
  for (int k = 11; k < argc; k++) {
    memset(x, 0, n * sizeof(float));  /* a short clip is zero-padded, as the pipeline fits clips */
    size_t len = strlen(argv[k]);
    if (len > 4 && !strcmp(argv[k] + len - 4, ".wav")) read_wav(argv[k], x, n, rate);
    else if (read_f32(argv[k], x, n) != n) fail("wrong number of float32 values in", argv[k]);
    set_input(in, x, n, in_scale, in_zp);
    for (int w = 0; w < (k == 11 ? warmup : 0); w++) TfLiteInterpreterInvoke(it);
    double start = now_us();
    if (TfLiteInterpreterInvoke(it) != kTfLiteOk) fail("Invoke failed on", argv[k]);
    printf("%.1f", now_us() - start);
    for (size_t c = 0; c < classes; c++) printf(" %.9g", output_value(out, c, out_scale, out_zp));
    printf("\n");
  }
  free(x);
  TfLiteInterpreterDelete(it);
  if (delegate) TfLiteXNNPackDelegateDelete(delegate);
  TfLiteInterpreterOptionsDelete(options);
  TfLiteModelDelete(model);
  return 0;
}
