/* The scikit-learn models' front in C: per MFCC coefficient, over the frames, mean, standard
 * deviation, standard deviation of the frame-to-frame difference, minimum and maximum, in that order
 * (pipeline/models/summary_stats.py is the reference; float32 throughout, like the ONNX graph). */
#include <math.h>

static void summary_stats(const float *mfcc, int n_mfcc, int frames, float *out)
{
    for (int c = 0; c < n_mfcc; c++) {
        const float *x = mfcc + c * frames;
        float sum = 0.0f, dsum = 0.0f, lo = x[0], hi = x[0];
        for (int t = 0; t < frames; t++) {
            sum += x[t];
            lo = x[t] < lo ? x[t] : lo;
            hi = x[t] > hi ? x[t] : hi;
        }
        for (int t = 1; t < frames; t++) {
            dsum += x[t] - x[t - 1];
        }
        float mean = sum / frames, dmean = dsum / (frames - 1), var = 0.0f, dvar = 0.0f;
        for (int t = 0; t < frames; t++) {
            var += (x[t] - mean) * (x[t] - mean);
        }
        for (int t = 1; t < frames; t++) {
            float d = x[t] - x[t - 1] - dmean;
            dvar += d * d;
        }
        out[c] = mean;
        out[n_mfcc + c] = sqrtf(var / frames);
        out[2 * n_mfcc + c] = sqrtf(dvar / (frames - 1));
        out[3 * n_mfcc + c] = lo;
        out[4 * n_mfcc + c] = hi;
    }
}
