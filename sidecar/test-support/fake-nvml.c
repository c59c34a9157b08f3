/*
 * Fake libnvidia-ml.so.1 for tests: the hardware boundary behind NVML. Each GPU's total-energy
 * counter (mJ) is read from $FAKE_NVML_DIR/energy<index>: either one number, or "mJ watts since" (a GPU
 * drawing `watts` since the Unix time `since`, so the counter advances with the clock, no writer needed); $FAKE_NVML_COUNT GPUs (default 2);
 * $FAKE_NVML_UNSUPPORTED makes the energy counter NOT_SUPPORTED (pre-Volta).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned int count(void) {
  const char *c = getenv("FAKE_NVML_COUNT");
  return c ? (unsigned int)atoi(c) : 2;
}

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) { return r == 3 ? "Not Supported" : r == 0 ? "Success" : "Unknown Error"; }
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = count(); return 0; }

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device) {
  if (index >= count()) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (void *)(uintptr_t)(0x1000 + index);
  return 0;
}

static unsigned int indexOf(void *device) { return (unsigned int)((uintptr_t)device - 0x1000); }

int nvmlDeviceGetName(void *device, char *name, unsigned int length) {
  snprintf(name, length, "Fake GPU %u", indexOf(device));
  return 0;
}

int nvmlDeviceGetUUID(void *device, char *uuid, unsigned int length) {
  snprintf(uuid, length, "GPU-fake-%u", indexOf(device));
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(void *device, unsigned long long *energy) {
  if (getenv("FAKE_NVML_UNSUPPORTED")) return 3;
  char path[4096];
  snprintf(path, sizeof path, "%s/energy%u", getenv("FAKE_NVML_DIR"), indexOf(device));
  FILE *f = fopen(path, "r");
  if (!f) return 999;
  double watts = 0, since = 0;
  int n = fscanf(f, "%llu %lf %lf", energy, &watts, &since);
  fclose(f);
  if (n < 1) return 999;
  if (n == 3) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double elapsed = (double)now.tv_sec + now.tv_nsec / 1e9 - since;
    if (elapsed > 0) *energy += (unsigned long long)(watts * elapsed * 1000.0);
  }
  return 0;
}

int nvmlDeviceGetPowerUsage(void *device, unsigned int *milliwatts) {
  *milliwatts = 100000 + 1000 * indexOf(device);
  return 0;
}
