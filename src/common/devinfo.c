/* SPDX-License-Identifier: Apache-2.0 */
/* Block device identity from sysfs (see devinfo.h). */
#include "common/devinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/xalloc.h"

static json_t *read_str(const char *dir, const char *leaf)
{
    char *p = fileio_join(dir, leaf);
    FILE *f = fopen(p, "re");
    free(p);
    if (!f)
        return json_null();
    char line[256];
    json_t *v = json_null();
    if (fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\n");
        while (n > 0 && line[n - 1] == ' ')
            n--;
        line[n] = 0;
        char *s = line;
        while (*s == ' ')
            s++;
        if (*s)
            v = json_string(s);
    }
    fclose(f);
    return v;
}

int devinfo_nvme_ctrl(const char *sys_root, const char *name, char *ret, size_t len)
{
    if (strncmp(name, "nvme", 4))
        return -ENOENT;
    char *p = xalloc_printf("%s/block/%s/device", sys_root ? sys_root : "/sys", name);
    char *real = realpath(p, NULL);
    free(p);
    int r = -ENOENT;
    if (real) {
        const char *b = strrchr(real, '/');
        b = b ? b + 1 : real;
        if (!strncmp(b, "nvme", 4) && strlen(b) < len) {
            memcpy(ret, b, strlen(b) + 1);
            r = 0;
        }
        free(real);
    }
    if (r < 0) {
        /* Fall back to the name: nvme0n1 -> nvme0. */
        const char *n = strchr(name + 4, 'n');
        size_t l = n ? (size_t)(n - name) : strlen(name);
        if (l < len) {
            memcpy(ret, name, l);
            ret[l] = 0;
            r = 0;
        }
    }
    return r;
}

json_t *devinfo_json(const char *sys_root, const char *name)
{
    const char *sys = sys_root ? sys_root : "/sys";
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    char *blk = xalloc_printf("%s/block/%s", sys, name);
    struct stat st;
    if (stat(blk, &st) < 0) {
        json_object_set_new(o, "present", json_false());
        free(blk);
        return o;
    }
    json_object_set_new(o, "present", json_true());
    char *devdir = fileio_join(blk, "device");
    json_t *model = read_str(devdir, "model");
    json_t *fw = read_str(devdir, "firmware_rev");
    if (json_is_null(fw)) {
        json_decref(fw);
        fw = read_str(devdir, "rev");
    }
    json_t *serial = read_str(devdir, "serial");
    if (json_is_null(serial)) {
        json_decref(serial);
        serial = read_str(blk, "serial");
    }
    json_object_set_new(o, "model", model);
    json_object_set_new(o, "firmware", fw);
    json_object_set_new(o, "serial", serial);
    json_t *size = read_str(blk, "size");
    if (json_is_string(size))
        json_object_set_new(
            o, "capacity_bytes",
            json_integer((json_int_t)strtoll(json_string_value(size), NULL, 10) * 512));
    else
        json_object_set_new(o, "capacity_bytes", json_null());
    json_decref(size);
    json_t *rot = read_str(blk, "queue/rotational");
    json_object_set_new(o, "rotational",
                        json_is_string(rot) ? json_boolean(json_string_value(rot)[0] == '1')
                                            : json_null());
    json_decref(rot);
    json_object_set_new(o, "scheduler", read_str(blk, "queue/scheduler"));
    char ctrl[64];
    const char *transport = "unknown";
    if (devinfo_nvme_ctrl(sys, name, ctrl, sizeof(ctrl)) == 0) {
        transport = "nvme";
        json_object_set_new(o, "nvme_controller", json_string(ctrl));
    } else if (!strncmp(name, "vd", 2)) {
        transport = "virtio";
    } else if (!strncmp(name, "sd", 2)) {
        transport = "scsi";
    }
    json_object_set_new(o, "transport", json_string(transport));
    /* PCIe link: the nearest ancestor of the device with current_link_speed. */
    json_t *link = json_null();
    char *real = realpath(devdir, NULL);
    for (int depth = 0; real && depth < 8; depth++) {
        char *sp = fileio_join(real, "current_link_speed");
        bool has = stat(sp, &st) == 0;
        free(sp);
        if (has) {
            link = json_object();
            json_object_set_new(link, "current_link_speed", read_str(real, "current_link_speed"));
            json_object_set_new(link, "current_link_width", read_str(real, "current_link_width"));
            json_object_set_new(link, "max_link_speed", read_str(real, "max_link_speed"));
            json_object_set_new(link, "max_link_width", read_str(real, "max_link_width"));
            const char *b = strrchr(real, '/');
            json_object_set_new(link, "pci_address", json_string(b ? b + 1 : real));
            break;
        }
        char *slash = strrchr(real, '/');
        if (!slash || slash == real)
            break;
        *slash = 0;
    }
    free(real);
    json_object_set_new(o, "pcie_link", link);
    free(devdir);
    free(blk);
    return o;
}
