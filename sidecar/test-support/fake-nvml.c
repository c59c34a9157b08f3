/*
 * Fake libnvidia-ml.so.1 for tests: the hardware boundary behind NVML. Each GPU's total-energy
 * counter (mJ) is read from $FAKE_NVML_DIR/energy<index>; $FAKE_NVML_COUNT GPUs (default 2);
 * $FAKE_NVML_UNSUPPORTED makes the energy counter NOT_SUPPORTED (pre-Volta).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
  if (fscanf(f, "%llu", energy) != 1) { fclose(f); return 999; }
  fclose(f);
  return 0;
}

int nvmlDeviceGetPowerUsage(void *device, unsigned int *milliwatts) {
  *milliwatts = 100000 + 1000 * indexOf(device);
  return 0;
}
