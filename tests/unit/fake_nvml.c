/* SPDX-License-Identifier: Apache-2.0 */
/* A fake libnvidia-ml for test_gpu: two GPUs with fixed readings, the second refusing memory
 * info (as unified-memory GB10 does) and reporting thermal and power throttling. Built as a
 * shared library by src/observe/meson.build; never installed. */
#include <string.h>

#define OK            0
#define NOT_SUPPORTED 3

struct util {
    unsigned gpu, memory;
};

struct mem {
    unsigned long long total, free, used;
};

int nvmlInit_v2(void);
int nvmlShutdown(void);
int nvmlDeviceGetCount_v2(unsigned *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h);
int nvmlDeviceGetName(void *h, char *name, unsigned len);
int nvmlDeviceGetUtilizationRates(void *h, struct util *u);
int nvmlDeviceGetMemoryInfo(void *h, struct mem *m);
int nvmlDeviceGetPowerUsage(void *h, unsigned *mw);
int nvmlDeviceGetClockInfo(void *h, int type, unsigned *mhz);
int nvmlDeviceGetTemperature(void *h, int sensor, unsigned *c);
int nvmlDeviceGetCurrentClocksEventReasons(void *h, unsigned long long *r);
const char *nvmlErrorString(int r);

static int handles[2];

int nvmlInit_v2(void)
{
    return OK;
}

int nvmlShutdown(void)
{
    return OK;
}

int nvmlDeviceGetCount_v2(unsigned *n)
{
    *n = 2;
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h)
{
    if (i > 1)
        return 2;
    *h = &handles[i];
    return OK;
}

static unsigned idx(void *h)
{
    return h == &handles[1] ? 1 : 0;
}

int nvmlDeviceGetName(void *h, char *name, unsigned len)
{
    const char *n = idx(h) ? "NVIDIA GB10" : "NVIDIA H200";
    if (len <= strlen(n))
        return 7;
    memcpy(name, n, strlen(n) + 1);
    return OK;
}

int nvmlDeviceGetUtilizationRates(void *h, struct util *u)
{
    u->gpu = idx(h) ? 55 : 97;
    u->memory = 40;
    return OK;
}

int nvmlDeviceGetMemoryInfo(void *h, struct mem *m)
{
    if (idx(h))
        return NOT_SUPPORTED;
    m->total = 150ULL << 30;
    m->used = 100ULL << 30;
    m->free = m->total - m->used;
    return OK;
}

int nvmlDeviceGetPowerUsage(void *h, unsigned *mw)
{
    *mw = idx(h) ? 90000 : 650000;
    return OK;
}

int nvmlDeviceGetClockInfo(void *h, int type, unsigned *mhz)
{
    if (type != 1)
        return 2;
    *mhz = 1980;
    return OK;
}

int nvmlDeviceGetTemperature(void *h, int sensor, unsigned *c)
{
    *c = idx(h) ? 88 : 61;
    return sensor == 0 ? OK : 2;
}

int nvmlDeviceGetCurrentClocksEventReasons(void *h, unsigned long long *r)
{
    *r = idx(h) ? (0x4ULL | 0x40ULL) : 0x1ULL;
    return OK;
}

const char *nvmlErrorString(int r)
{
    return r == OK ? "Success" : "Error";
}
