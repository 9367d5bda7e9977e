/* SPDX-License-Identifier: Apache-2.0 */
/* NVMe SMART log decoding and acquisition (see smart.h). Byte offsets follow the NVMe base
 * specification's SMART / Health Information log (nvme-cli nvme-types-base.h). */
#include "observe/smart.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clk.h"
#include "common/jsonx.h"
#include "common/xalloc.h"

extern char **environ;

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

int smart_decode(const uint8_t *page, size_t len, struct smart_log *ret)
{
    if (!page || len < SMART_LOG_BYTES)
        return -EINVAL;
    struct smart_log s = {
        .critical_warning = page[0],
        .temperature_k = (uint16_t)le(page + 1, 2),
        .avail_spare = page[3],
        .spare_thresh = page[4],
        .percent_used = page[5],
        .endurance_grp_cw = page[6],
        .data_units_read = le(page + 32, 8),
        .data_units_written = le(page + 48, 8),
        .host_read_commands = le(page + 64, 8),
        .host_write_commands = le(page + 80, 8),
        .controller_busy_time_min = le(page + 96, 8),
        .power_cycles = le(page + 112, 8),
        .power_on_hours = le(page + 128, 8),
        .unsafe_shutdowns = le(page + 144, 8),
        .media_errors = le(page + 160, 8),
        .num_err_log_entries = le(page + 176, 8),
        .warning_temp_time_min = (uint32_t)le(page + 192, 4),
        .critical_comp_time_min = (uint32_t)le(page + 196, 4),
        .thm_temp1_trans_count = (uint32_t)le(page + 216, 4),
        .thm_temp2_trans_count = (uint32_t)le(page + 220, 4),
        .thm_temp1_total_time_s = (uint32_t)le(page + 224, 4),
        .thm_temp2_total_time_s = (uint32_t)le(page + 228, 4),
    };
    for (int i = 0; i < SMART_SENSORS; i++)
        s.temp_sensor_k[i] = (uint16_t)le(page + 200 + 2 * i, 2);
    *ret = s;
    return 0;
}

enum enc { ENC_NONE, ENC_NUMBER, ENC_REAL, ENC_STRING, ENC_BAD };

/* A counter that nvme-cli may print as an integer, a real or a decimal string. */
static enum enc get_counter(const json_t *o, const char *key, uint64_t *ret)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return ENC_NONE;
    if (json_is_object(v)) /* verbose critical_warning */
        v = json_object_get(v, "value");
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return ENC_BAD;
        *ret = (uint64_t)json_integer_value(v);
        return ENC_NUMBER;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0) || !isfinite(d))
            return ENC_BAD;
        *ret = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)llround(d);
        return ENC_REAL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        uint64_t x = 0;
        if (!*s)
            return ENC_BAD;
        for (const char *p = s; *p; p++) {
            if (*p < '0' || *p > '9')
                return ENC_BAD;
            uint64_t nx = x * 10 + (uint64_t)(*p - '0');
            x = nx / 10 != x ? UINT64_MAX : nx; /* beyond 64 bits: saturate */
        }
        *ret = x;
        return ENC_STRING;
    }
    return ENC_BAD;
}

int smart_from_nvme_cli_json(const json_t *j, struct smart_log *ret, const char **ret_variant)
{
    if (!json_is_object(j))
        return -EINVAL;
    struct smart_log s = { 0 };
    uint64_t v;
    enum enc e_read = get_counter(j, "data_units_read", &s.data_units_read);
    if (e_read == ENC_NONE || e_read == ENC_BAD)
        return -EINVAL;
    enum enc e = get_counter(j, "data_units_written", &s.data_units_written);
    if (e == ENC_NONE || e == ENC_BAD)
        return -EINVAL;
    e = get_counter(j, "temperature", &v);
    if (e == ENC_NONE || e == ENC_BAD)
        return -EINVAL;
    s.temperature_k = (uint16_t)v;
    static const struct {
        const char *key;
        size_t off;
        unsigned size;
    } map[] = {
#define F(k, field) { k, offsetof(struct smart_log, field), sizeof(((struct smart_log *)0)->field) }
        F("critical_warning", critical_warning),
        F("avail_spare", avail_spare),
        F("spare_thresh", spare_thresh),
        F("percent_used", percent_used),
        F("endurance_grp_critical_warning_summary", endurance_grp_cw),
        F("host_read_commands", host_read_commands),
        F("host_write_commands", host_write_commands),
        F("controller_busy_time", controller_busy_time_min),
        F("power_cycles", power_cycles),
        F("power_on_hours", power_on_hours),
        F("unsafe_shutdowns", unsafe_shutdowns),
        F("media_errors", media_errors),
        F("num_err_log_entries", num_err_log_entries),
        F("warning_temp_time", warning_temp_time_min),
        F("critical_comp_time", critical_comp_time_min),
        F("thm_temp1_trans_count", thm_temp1_trans_count),
        F("thm_temp2_trans_count", thm_temp2_trans_count),
        F("thm_temp1_total_time", thm_temp1_total_time_s),
        F("thm_temp2_total_time", thm_temp2_total_time_s),
#undef F
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        e = get_counter(j, map[i].key, &v);
        if (e == ENC_BAD)
            return -EINVAL;
        if (e == ENC_NONE)
            continue;
        uint8_t *p = (uint8_t *)&s + map[i].off;
        if (map[i].size == 1) {
            uint8_t x = v > 255 ? 255 : (uint8_t)v;
            memcpy(p, &x, 1);
        } else if (map[i].size == 4) {
            uint32_t x = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
            memcpy(p, &x, 4);
        } else {
            memcpy(p, &v, 8);
        }
    }
    for (int i = 0; i < SMART_SENSORS; i++) {
        char k[32];
        snprintf(k, sizeof(k), "temperature_sensor_%d", i + 1);
        if (get_counter(j, k, &v) == ENC_NUMBER || get_counter(j, k, &v) == ENC_STRING ||
            get_counter(j, k, &v) == ENC_REAL)
            s.temp_sensor_k[i] = (uint16_t)v;
    }
    if (ret_variant)
        *ret_variant = e_read == ENC_REAL ? "float" : e_read == ENC_STRING ? "string" : "number";
    *ret = s;
    return 0;
}

int smart_from_nvme_cli_text(const char *text, size_t len, struct smart_log *ret,
                             const char **ret_variant)
{
    if (len > SMART_JSON_MAX_BYTES)
        return -EMSGSIZE;
    json_t *j = NULL;
    int r = jsonx_parse(text, len, &j, NULL);
    if (r < 0)
        return r;
    r = smart_from_nvme_cli_json(j, ret, ret_variant);
    json_decref(j);
    return r;
}

static json_t *u64j(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *smart_to_json(const struct smart_log *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "critical_warning", json_integer(s->critical_warning));
    json_object_set_new(o, "temperature_k", json_integer(s->temperature_k));
    json_object_set_new(o, "temperature_c",
                        s->temperature_k ? json_integer((json_int_t)s->temperature_k - 273)
                                         : json_null());
    json_object_set_new(o, "avail_spare_pct", json_integer(s->avail_spare));
    json_object_set_new(o, "spare_thresh_pct", json_integer(s->spare_thresh));
    json_object_set_new(o, "percent_used", json_integer(s->percent_used));
    json_object_set_new(o, "endurance_grp_critical_warning", json_integer(s->endurance_grp_cw));
    json_object_set_new(o, "data_units_read", u64j(s->data_units_read));
    json_object_set_new(o, "data_units_written", u64j(s->data_units_written));
    json_object_set_new(o, "data_read_bytes", u64j(s->data_units_read * SMART_DATA_UNIT_BYTES));
    json_object_set_new(o, "data_written_bytes",
                        u64j(s->data_units_written * SMART_DATA_UNIT_BYTES));
    json_object_set_new(o, "host_read_commands", u64j(s->host_read_commands));
    json_object_set_new(o, "host_write_commands", u64j(s->host_write_commands));
    json_object_set_new(o, "controller_busy_time_min", u64j(s->controller_busy_time_min));
    json_object_set_new(o, "power_cycles", u64j(s->power_cycles));
    json_object_set_new(o, "power_on_hours", u64j(s->power_on_hours));
    json_object_set_new(o, "unsafe_shutdowns", u64j(s->unsafe_shutdowns));
    json_object_set_new(o, "media_errors", u64j(s->media_errors));
    json_object_set_new(o, "num_err_log_entries", u64j(s->num_err_log_entries));
    json_object_set_new(o, "warning_temp_time_min", json_integer(s->warning_temp_time_min));
    json_object_set_new(o, "critical_comp_time_min", json_integer(s->critical_comp_time_min));
    json_t *sens = json_array();
    for (int i = 0; i < SMART_SENSORS; i++)
        json_array_append_new(sens, s->temp_sensor_k[i] ? json_integer(s->temp_sensor_k[i])
                                                        : json_null());
    json_object_set_new(o, "temperature_sensors_k", sens);
    json_object_set_new(o, "thm_temp1_trans_count", json_integer(s->thm_temp1_trans_count));
    json_object_set_new(o, "thm_temp2_trans_count", json_integer(s->thm_temp2_trans_count));
    json_object_set_new(o, "thm_temp1_total_time_s", json_integer(s->thm_temp1_total_time_s));
    json_object_set_new(o, "thm_temp2_total_time_s", json_integer(s->thm_temp2_total_time_s));
    return o;
}

static json_t *d64(uint64_t a, uint64_t b)
{
    return json_integer(b >= a ? (json_int_t)(b - a) : -(json_int_t)(a - b));
}

json_t *smart_delta_json(const struct smart_log *pre, const struct smart_log *post)
{
    json_t *o = json_object();
    json_object_set_new(o, "data_read_bytes",
                        d64(pre->data_units_read * SMART_DATA_UNIT_BYTES,
                            post->data_units_read * SMART_DATA_UNIT_BYTES));
    json_object_set_new(o, "data_written_bytes",
                        d64(pre->data_units_written * SMART_DATA_UNIT_BYTES,
                            post->data_units_written * SMART_DATA_UNIT_BYTES));
    json_object_set_new(o, "data_unit_granularity_bytes", json_integer(SMART_DATA_UNIT_BYTES));
    json_object_set_new(o, "host_read_commands",
                        d64(pre->host_read_commands, post->host_read_commands));
    json_object_set_new(o, "host_write_commands",
                        d64(pre->host_write_commands, post->host_write_commands));
    json_object_set_new(o, "media_errors", d64(pre->media_errors, post->media_errors));
    json_object_set_new(o, "num_err_log_entries",
                        d64(pre->num_err_log_entries, post->num_err_log_entries));
    json_object_set_new(o, "thm_temp1_trans_count",
                        d64(pre->thm_temp1_trans_count, post->thm_temp1_trans_count));
    json_object_set_new(o, "thm_temp2_trans_count",
                        d64(pre->thm_temp2_trans_count, post->thm_temp2_trans_count));
    json_object_set_new(o, "thm_temp1_total_time_s",
                        d64(pre->thm_temp1_total_time_s, post->thm_temp1_total_time_s));
    json_object_set_new(o, "thm_temp2_total_time_s",
                        d64(pre->thm_temp2_total_time_s, post->thm_temp2_total_time_s));
    json_object_set_new(o, "warning_temp_time_min",
                        d64(pre->warning_temp_time_min, post->warning_temp_time_min));
    json_object_set_new(o, "critical_comp_time_min",
                        d64(pre->critical_comp_time_min, post->critical_comp_time_min));
    json_object_set_new(o, "percent_used", d64(pre->percent_used, post->percent_used));
    json_object_set_new(o, "temperature_c_pre", json_integer((json_int_t)pre->temperature_k - 273));
    json_object_set_new(o, "temperature_c_post",
                        json_integer((json_int_t)post->temperature_k - 273));
    json_object_set_new(o, "critical_warning_bits",
                        json_integer(pre->critical_warning | post->critical_warning));
    bool thermal = post->thm_temp1_trans_count > pre->thm_temp1_trans_count ||
                   post->thm_temp2_trans_count > pre->thm_temp2_trans_count ||
                   post->warning_temp_time_min > pre->warning_temp_time_min ||
                   post->critical_comp_time_min > pre->critical_comp_time_min ||
                   (post->critical_warning & 0x02);
    json_object_set_new(o, "thermal_event", json_boolean(thermal));
    json_object_set_new(o, "errors_grew",
                        json_boolean(post->media_errors > pre->media_errors ||
                                     (post->critical_warning & ~0x02) != 0));
    return o;
}

int smart_read_ioctl(const char *ctrl_path, uint8_t page[SMART_LOG_BYTES])
{
    int fd = open(ctrl_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    memset(page, 0, SMART_LOG_BYTES);
    struct nvme_admin_cmd c = {
        .opcode = 0x02,
        .nsid = 0xffffffffu,
        .addr = (uint64_t)(uintptr_t)page,
        .data_len = SMART_LOG_BYTES,
        .cdw10 = 0x02u | ((SMART_LOG_BYTES / 4 - 1) << 16),
    };
    int r = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c);
    int e = errno;
    close(fd);
    if (r < 0)
        return -e;
    return r > 0 ? -EIO : 0;
}

int smart_read_nvme_cli(const char *prog, const char *dev, uint64_t timeout_ns,
                        struct smart_log *ret, const char **ret_variant)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = { (char *)prog, "smart-log", (char *)dev, "-o", "json", NULL };
    pid_t pid;
    int r = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (r != 0) {
        close(pfd[0]);
        return r == ENOENT ? -ENOENT : -r;
    }
    struct buf out;
    buf_init(&out, SMART_JSON_MAX_BYTES);
    uint64_t deadline = clk_now_ns() + timeout_ns;
    bool timed_out = false, too_big = false;
    for (;;) {
        uint64_t now = clk_now_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int pr = poll(&p, 1, (int)((deadline - now) / CLK_NS_PER_MS) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char tmp[4096];
        ssize_t n = read(pfd[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_append(&out, tmp, (size_t)n) < 0) {
            too_big = true;
            break;
        }
    }
    close(pfd[0]);
    if (timed_out || too_big)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        r = -ETIMEDOUT;
    else if (too_big)
        r = -EMSGSIZE;
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        r = WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -EIO;
    else
        r = smart_from_nvme_cli_text(buf_str(&out), out.len, ret, ret_variant);
    buf_fini(&out);
    return r;
}
